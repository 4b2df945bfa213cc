"""The activity of the logistics sample database over 2022-2024: shipments with their parcels and tracking scans,
monthly invoices, fuel fill-ups and incidents (see `sample_logistics`).

The distributions give analytical questions an answer worth finding: bookings peak in November-December and grow
each year; London and Glasgow, rural routes, the peak season and faster service levels deliver late more often
(less so each year, and the new Newcastle depot struggled in 2022); some drivers fail more delivery attempts;
diesel prices spike in 2022; older vans break down more.
"""

from __future__ import annotations

import random
import sqlite3
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from dbgpt_tools.sql.sample_logistics_world import (
    AS_OF,
    DEPOTS,
    FIRST_DAY,
    FIRST_NAMES,
    LAST_DAY,
    LAST_NAMES,
    SECTORS,
    SERVICE_LEVELS,
    VEHICLE_TYPES,
    Customer,
    Worker,
    World,
    after,
    towns_of,
    working,
)

# Bookings per month relative to the mean (Black Friday and Christmas peak, quiet January), and yearly growth.
MONTH_WEIGHT = (0.8, 0.82, 0.92, 0.9, 0.93, 0.88, 0.86, 0.9, 0.95, 1.02, 1.5, 1.45)
YEAR_WEIGHT = {2022: 1.0, 2023: 1.16, 2024: 1.3}
YEAR_LATE = {2022: 1.0, 2023: 0.8, 2024: 0.6}  # a new sorting system cut late deliveries
PRICE_INDEX = {2022: 1.0, 2023: 1.07, 2024: 1.11}
# Average UK diesel pump price per month, GBP per litre, January 2022 to December 2024.
DIESEL = {
    2022: (1.52, 1.56, 1.73, 1.77, 1.8, 1.92, 1.99, 1.86, 1.8, 1.88, 1.9, 1.8),
    2023: (1.7, 1.68, 1.66, 1.59, 1.53, 1.49, 1.48, 1.56, 1.6, 1.61, 1.57, 1.52),
    2024: (1.51, 1.54, 1.56, 1.57, 1.56, 1.52, 1.5, 1.49, 1.43, 1.42, 1.45, 1.46),
}
SHIPMENT_COUNT = 1500  # expected bookings; rounding per day adds or drops a few
FAILURES = (("Recipient not available", 62), ("Access problem", 14), ("Address not found", 10), ("Refused", 14))
COLLECTED, ARRIVED, OUT, DELIVERED, FAILED, RETURNED, LOST, CANCELLED = range(1, 9)  # EventTypeID
JITTER = 5
"""A shipment's parcels are scanned a minute apart: parcel k gets the shipment's scan times plus k minutes."""

Event = tuple[int, int, date, int, str | None]  # EventTypeID, DepotID, day, minute of the day, note


@dataclass
class Billable:
    shipment_id: int
    customer: Customer
    booked: date
    level: int
    weight: float
    declared: float | None
    returned: bool


@dataclass
class _Shipments:
    conn: sqlite3.Connection
    rng: random.Random
    world: World
    shipments: list[tuple[Any, ...]] = field(default_factory=list)
    parcels: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    billable: list[Billable] = field(default_factory=list)
    tracking: set[str] = field(default_factory=set)

    def book(self, day: date, signups: list[str]) -> None:
        """One booking on `day`: sender, service, destination, parcels, then the journey its scans record."""
        rng, world = self.rng, self.world
        eligible = world.customers[: bisect_right(signups, day.isoformat())]
        peak = day.month in (11, 12)
        sender = rng.choices(eligible, weights=[c.volume * (SECTORS[c.sector][4] if peak else 1) for c in eligible])[0]
        healthcare = sender.sector == "Healthcare"
        shares = [lvl[5] * (2.2 if healthcare and lvl[2] <= 1 else 1.0) for lvl in SERVICE_LEVELS]
        level = rng.choices(range(1, len(SERVICE_LEVELS) + 1), weights=shares)[0]
        days, late_rate = SERVICE_LEVELS[level - 1][2], SERVICE_LEVELS[level - 1][6]
        dest = sender.depot
        if days > 0 and rng.random() > 0.25:
            dest = rng.choices(range(1, len(DEPOTS) + 1), weights=[d[4] for d in DEPOTS])[0]
        towns = towns_of(dest)
        town = rng.choices([t[0] for t in towns], weights=[t[4] for t in towns])[0]
        address, route = rng.choice(world.pool[(dest, town)])

        median_kg, counts = SECTORS[sender.sector][2], SECTORS[sender.sector][3]
        count = rng.choices((1, 2, 3, 4), weights=counts)[0]
        count = rng.randint(4, 6) if count == 4 else count
        weights = [round(min(30.0, max(0.1, median_kg * rng.lognormvariate(0, 0.7))), 2) for _ in range(count)]
        fragile_rate = 0.2 if sender.sector in ("Healthcare", "Food & Drink") else 0.07
        fragile = [int(rng.random() < fragile_rate) for _ in weights]
        declare = rng.random() < (0.6 if sender.sector in ("Healthcare", "Manufacturing") else 0.3)
        declared = round(rng.lognormvariate(4.0, 0.9), 2) if declare else None
        has_reference = rng.random() < (0.8 if sender.contract else 0.35)
        reference = f"{sender.prefix}-{rng.randint(10000, 99999)}" if has_reference else None
        recipient = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"

        due = after(day, days)
        events, status, driver, vehicle = self._journey(day, days, due, sender.depot, dest, route, late_rate, weights)
        kept = [event for event in events if _stamp(event, JITTER) <= AS_OF]
        if len(kept) < len(events):
            status = "In Transit"
        drop = next((e for e in kept if e[0] == DELIVERED), None)
        if not any(event[0] == OUT for event in kept):
            driver = vehicle = None
        shipment_id = len(self.shipments) + 1
        crew = (driver and driver.id, vehicle and vehicle.id)
        dates = (day.isoformat(), due.isoformat(), drop and drop[2].isoformat())
        self.shipments.append(
            (shipment_id, sender.id, level, address, route, *crew, recipient, reference, declared, *dates, status)
        )
        for k, (kg, is_fragile) in enumerate(zip(weights, fragile, strict=True)):
            parcel_id = len(self.parcels) + 1
            size = _dimensions(rng, kg)
            at = drop and _stamp(drop, k)
            self.parcels.append((parcel_id, shipment_id, self._tracking_number(), kg, *size, is_fragile, at))
            for type_id, depot, when, minute, note in kept:
                scanned = _stamp((type_id, depot, when, minute, note), k)
                self.events.append((len(self.events) + 1, parcel_id, type_id, depot, scanned, note))
        if status in ("Delivered", "Returned"):
            self.billable.append(
                Billable(shipment_id, sender, day, level, sum(weights), declared, status == "Returned")
            )
        self._incidents(sender, kept, any(fragile))

    def _journey(
        self, day: date, days: int, due: date, origin: int, dest: int, route: int, late_rate: float, kg: list[float]
    ) -> tuple[list[Event], str, Worker | None, Worker | None]:
        rng = self.rng
        if rng.random() < 0.015:
            return [(CANCELLED, origin, day, _minute(rng, 7, 10), "Cancelled by the sender")], "Cancelled", None, None
        events: list[Event] = [
            (COLLECTED, origin, day, _minute(rng, 8, 11) if days == 0 else _minute(rng, 10, 17), None)
        ]
        if rng.random() < 0.004:
            if origin != dest:
                events.append((ARRIVED, dest, after(day, 1), _minute(rng, 3, 6), None))
            events.append((LOST, origin, due + timedelta(10), _minute(rng, 10, 16), "Not found after a search"))
            return events, "Lost", None, None
        rural = self.world.area[route] == "Rural"
        late = late_rate * DEPOTS[dest - 1][5] * YEAR_LATE[day.year] * (1.7 if day.month in (11, 12) else 1.0)
        late *= (2.0 if rural else 1.0) * (1.8 if DEPOTS[dest - 1][0] == "NCL" and day.year == 2022 else 1.0)
        attempt = due
        if rng.random() < late:
            attempt = after(due, 1 + (rng.random() < 0.35) + (rng.random() < 0.12))
        elif days >= 2 and rng.random() < (0.35 if days >= 4 else 0.12):  # early
            attempt = after(day, max(1, days - rng.randint(1, 2)))
        driver, vehicle = self._crew(dest, route, attempt, sum(kg))
        if origin != dest:
            events.append((ARRIVED, dest, attempt, _minute(rng, 3, 6), None))
        fail = 0.045 * driver.factor * (1.3 if rural else 1.0) * (1.25 if day.month == 12 else 1.0)
        for tries in range(1, 4):
            same_day = attempt == day
            events.append((OUT, dest, attempt, _minute(rng, 11.5, 13.5) if same_day else _minute(rng, 7, 9.5), None))
            at = _minute(rng, 13.5, 21) if same_day else _minute(rng, 9.5, 20)
            if rng.random() >= fail:
                events.append((DELIVERED, dest, attempt, at, None))
                return events, "Delivered", driver, vehicle
            reason = rng.choices([f[0] for f in FAILURES], weights=[f[1] for f in FAILURES])[0]
            events.append((FAILED, dest, attempt, at, reason))
            if reason == "Refused" or tries == 3 or (reason == "Address not found" and rng.random() < 0.5):
                events.append((RETURNED, dest, after(attempt, 1), _minute(rng, 6, 9), reason))
                return events, "Returned", driver, vehicle
            attempt = after(attempt, 1)
        raise AssertionError("a journey ends within three attempts")

    def _crew(self, depot: int, route: int, day: date, kg: float) -> tuple[Worker, Worker]:
        """A driver working that day and the next few, and a vehicle in service: a box truck for heavy loads, in
        central London a cargo bike for some light ones, a van otherwise."""
        first, last = day.isoformat(), (day + timedelta(4)).isoformat()
        licences = ("C1",) if kg > 60 else ("B", "C1")
        drivers = [d for d in self.world.drivers if d.depot == depot and d.kind in licences and d.active(first, last)]
        kinds: tuple[str, ...] = ("Small Van", "Large Van", "Electric Van")
        if kg > 60:
            kinds = ("Box Truck",)
        elif DEPOTS[depot - 1][0] == "LON" and self.world.area[route] == "Urban" and kg < 8 and first >= "2022-05-16":
            kinds = ("Cargo Bike",) if self.rng.random() < 0.35 else kinds
        vehicles = [v for v in self.world.vehicles if v.depot == depot and v.kind in kinds and v.active(first)]
        return self.rng.choice(drivers), self.rng.choice(vehicles)

    def _tracking_number(self) -> str:
        number = ""
        while not number or number in self.tracking:
            number = f"SL{self.rng.randrange(10**8):08d}GB"
        self.tracking.add(number)
        return number

    def _incidents(self, sender: Customer, events: list[Event], fragile: bool) -> None:
        """Damaged parcels (fragile ones more), losses, and complaints about some late deliveries."""
        rng, last = self.rng, events[-1] if events else None
        shipment_id, _, _, _, _, driver_id, vehicle_id, _, _, declared, _, due, _, status = self.shipments[-1]
        if last is None or status not in ("Delivered", "Lost"):
            return
        if status == "Lost":
            cost = declared if declared is not None else 75.0
            lost = ("Lost Parcel", last[2], last[3], shipment_id, None, None, "High", cost, rng.randint(10, 40))
            add_incident(self.world, lost)
            return
        if rng.random() < 0.008 * (3 if fragile else 1):
            cost = round(min(declared or 60.0, rng.uniform(12, 180)), 2)
            severity = "Medium" if cost > 80 else "Low"
            damage = ("Damaged Parcel", last[2], last[3], shipment_id, vehicle_id, driver_id, severity, cost)
            add_incident(self.world, (*damage, rng.randint(3, 25)))
        if last[2].isoformat() > due and rng.random() < 0.18 * (2 if sender.sector == "Healthcare" else 1):
            cost = float(rng.choice((0, 5, 10, 15, 25)))
            when, at = last[2] + timedelta(rng.randint(0, 2)), _minute(rng, 9, 17)
            complaint = ("Late Delivery Complaint", when, at, shipment_id, None, driver_id, "Low", cost)
            add_incident(self.world, (*complaint, rng.randint(1, 10)))


def insert_shipments(conn: sqlite3.Connection, rng: random.Random, world: World) -> list[Billable]:
    """Bookings day by day (none on Sundays and bank holidays, fewer on Saturdays), following the weights."""
    days = [FIRST_DAY + timedelta(n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
    weights = [
        YEAR_WEIGHT[d.year] * MONTH_WEIGHT[d.month - 1] * (0.4 if d.weekday() == 5 else 1.0) if working(d) else 0.0
        for d in days
    ]
    scale = SHIPMENT_COUNT / sum(weights)
    booked = [d for d, w in zip(days, weights, strict=True) for _ in range(int(w * scale + rng.random()))]
    shipments = _Shipments(conn, rng, world)
    signups = [c.signup for c in world.customers]
    for day in booked:
        shipments.book(day, signups)
    conn.executemany(f"INSERT INTO Shipment VALUES ({', '.join('?' * 14)})", shipments.shipments)
    conn.executemany("INSERT INTO Parcel VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", shipments.parcels)
    conn.executemany("INSERT INTO ParcelEvent VALUES (?, ?, ?, ?, ?, ?)", shipments.events)
    return shipments.billable


def insert_invoices(conn: sqlite3.Connection, rng: random.Random, world: World, billable: list[Billable]) -> None:
    """One invoice per customer and month booked, issued on the 1st of the next month (December 2024: not yet)."""
    groups: dict[tuple[str, int], list[Billable]] = {}
    for item in billable:
        month = item.booked.isoformat()[:7]
        if month < LAST_DAY.isoformat()[:7]:
            groups.setdefault((month, item.customer.id), []).append(item)
    invoices: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    numbers: dict[str, int] = {}
    for (month, customer_id), items in sorted(groups.items()):
        customer = world.customers[customer_id - 1]
        numbers[month] = numbers.get(month, 0) + 1
        year, number = int(month[:4]), int(month[5:])
        issued = date(year + number // 12, number % 12 + 1, 1)
        due = issued + timedelta(30 if customer.contract else 14)
        if customer.slow_payer:
            paid = None if rng.random() < 0.08 else due + timedelta(rng.randint(3, 75))
        else:
            paid = issued + timedelta(rng.randint(2, (due - issued).days + 4))
        paid_on = paid.isoformat() if paid is not None and paid <= LAST_DAY else None
        invoice_id = len(invoices) + 1
        invoices.append((invoice_id, f"INV-{month}-{numbers[month]:04d}", customer_id, month))
        invoices[-1] += (issued.isoformat(), due.isoformat(), paid_on, 0.0)
        for item in items:
            base, per_kg = SERVICE_LEVELS[item.level - 1][3:5]
            list_price = (base + per_kg * max(1.0, item.weight)) * PRICE_INDEX[item.booked.year]
            carriage = round(list_price * (1 - customer.discount), 2)
            charges = [("Carriage", carriage)]
            if "2022-04" <= month <= "2022-12":  # while diesel was dearest
                charges.append(("Fuel Surcharge", round(carriage * 0.06, 2)))
            if item.declared is not None and item.declared > 100:
                charges.append(("Insurance", round(max(2.5, item.declared * 0.015), 2)))
            if item.returned:
                charges.append(("Return Fee", round(4.95 * (1 - customer.discount), 2)))
            for kind, amount in charges:
                lines.append((len(lines) + 1, invoice_id, item.shipment_id, kind, amount))
    conn.executemany("INSERT INTO Invoice VALUES (?, ?, ?, ?, ?, ?, ?, ?)", invoices)
    conn.executemany("INSERT INTO InvoiceLine VALUES (?, ?, ?, ?, ?)", lines)
    conn.execute(
        "UPDATE Invoice SET TotalAmount = "
        "(SELECT ROUND(SUM(Amount), 2) FROM InvoiceLine l WHERE l.InvoiceID = Invoice.InvoiceID)"
    )


def insert_fuel_logs(conn: sqlite3.Connection, rng: random.Random, world: World) -> None:
    """Fill-ups of every diesel vehicle in service, at the month's pump price less the fuel card's discount;
    older vehicles of a type need more litres per 100 km."""
    rows: list[tuple[Any, ...]] = []
    for vehicle in world.vehicles:
        _, fuel, _, _, per_100km, litres_range, interval = next(v for v in VEHICLE_TYPES if v[0] == vehicle.kind)
        if fuel != "Diesel":
            continue
        licence = {"Box Truck": "C1", "Articulated Lorry": "C+E"}.get(vehicle.kind, "B")
        bought = date.fromisoformat(vehicle.start)
        day, end = max(bought, FIRST_DAY), min(date.fromisoformat(vehicle.end or LAST_DAY.isoformat()), LAST_DAY)
        km_per_day = sum(litres_range) / per_100km * 100 / sum(interval)
        odometer = int((day - bought).days * km_per_day) + rng.randint(20, 400)
        thirst = rng.uniform(0.92, 1.1) * (1 + 0.02 * (day - bought).days / 365)  # older vehicles burn more
        day += timedelta(rng.randint(0, interval[1] - 1))
        while day <= end:
            iso = day.isoformat()
            litres = round(rng.uniform(*litres_range), 2)
            odometer += int(litres / (per_100km * thirst) * 100 * rng.uniform(0.9, 1.1))
            price = round(DIESEL[day.year][day.month - 1] - 0.06 + rng.uniform(-0.03, 0.03), 2)
            staff = [d for d in world.drivers if d.depot == vehicle.depot and d.kind == licence and d.active(iso)]
            driver = rng.choice(staff).id if staff and rng.random() >= 0.15 else None
            rows.append((vehicle.id, driver, iso, litres, price, round(litres * price, 2), odometer))
            day += timedelta(rng.randint(*interval))
    rows.sort(key=lambda row: (row[2], row[0]))
    conn.executemany("INSERT INTO FuelLog VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows, 1)])


def insert_incidents(conn: sqlite3.Connection, rng: random.Random, world: World) -> None:
    """Breakdowns (more as a vehicle ages) and collisions month by month, then every incident in time order."""
    for vehicle in world.vehicles:
        electric = next(v for v in VEHICLE_TYPES if v[0] == vehicle.kind)[1] == "Electric"
        licence = {"Box Truck": "C1", "Articulated Lorry": "C+E"}.get(vehicle.kind, "B")
        bought = date.fromisoformat(vehicle.start)
        start, end = max(bought, FIRST_DAY), min(date.fromisoformat(vehicle.end or LAST_DAY.isoformat()), LAST_DAY)
        month = date(start.year, start.month, 1)
        while month <= end:
            age = (month - bought).days / 365
            for kind, chance in (
                ("Vehicle Breakdown", 0.012 * (1 + 0.3 * age) * (0.5 if electric else 1)),
                ("Road Collision", 0.0035),
            ):
                if rng.random() >= chance:
                    continue
                day = min(max(month + timedelta(rng.randint(0, 27)), start), end)
                staff = [
                    d
                    for d in world.drivers
                    if d.depot == vehicle.depot and d.kind == licence and d.active(day.isoformat())
                ]
                driver = rng.choice(staff).id if staff and (kind == "Road Collision" or rng.random() < 0.75) else None
                cost = round(
                    rng.lognormvariate(6.2, 0.7) if kind == "Vehicle Breakdown" else rng.lognormvariate(7.6, 0.8), 2
                )
                severity = "High" if cost > 3000 else ("Medium" if cost > 400 else "Low")
                incident = (
                    kind,
                    day,
                    _minute(rng, 6, 20),
                    None,
                    vehicle.id,
                    driver,
                    severity,
                    cost,
                    rng.randint(1, 21),
                )
                add_incident(world, incident)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    rows = sorted(world.incidents, key=lambda row: (row[1], row[2] or 0, row[3] or 0))
    conn.executemany(
        "INSERT INTO Incident VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows, 1)]
    )


def add_incident(world: World, incident: tuple[Any, ...]) -> None:
    """Record an incident (kind, day, minute, shipment, vehicle, driver, severity, cost, days to resolve); one not
    resolved by the end of 2024 has no cost or resolution date yet."""
    kind, day, minute, shipment, vehicle, driver, severity, cost, days = incident
    resolved = day + timedelta(days)
    done = resolved <= LAST_DAY
    at = _stamp((0, 0, day, minute, None))
    world.incidents.append(
        (kind, at, shipment, vehicle, driver, severity, cost if done else None, resolved.isoformat() if done else None)
    )


def _minute(rng: random.Random, start_hour: float, end_hour: float) -> int:
    return rng.randrange(int(start_hour * 60), int(end_hour * 60))


def _stamp(event: Event, extra: int = 0) -> str:
    minute = event[3] + extra
    return f"{event[2].isoformat()} {minute // 60:02d}:{minute % 60:02d}"


def _dimensions(rng: random.Random, kg: float) -> tuple[int, int, int]:
    side = (kg * rng.uniform(2500, 8000)) ** (1 / 3)
    return max(10, round(side * 1.5)), max(8, round(side)), max(2, round(side * 0.55))
