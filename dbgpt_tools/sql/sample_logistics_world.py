"""The static side of the logistics sample database: lookup tables, depots with their routes and addresses, customer
accounts, the fleet and the drivers (see `sample_logistics`). Deterministic: every choice comes from the `rng`."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

FIRST_DAY = date(2022, 1, 1)
LAST_DAY = date(2024, 12, 31)
AS_OF = "2024-12-31 18:00"
"""The moment the data was taken: later scans have not happened, so their shipments are still 'In Transit'."""

# code, name, promised working days, base price, price per kg, share of bookings, base late-delivery rate
SERVICE_LEVELS = (
    ("ECO", "Economy", 4, 3.95, 0.35, 22, 0.03),
    ("STD", "Standard", 2, 5.45, 0.45, 46, 0.06),
    ("EXP", "Express", 1, 9.95, 0.65, 24, 0.11),
    ("SDY", "Same Day", 0, 18.5, 0.9, 8, 0.17),
)
EVENT_TYPES = (
    ("COLLECTED", "Collected from the sender by the origin depot", 0),
    ("ARRIVED_AT_DEPOT", "Arrived at the destination depot by trunk lorry", 0),
    ("OUT_FOR_DELIVERY", "Loaded on a delivery vehicle", 0),
    ("DELIVERED", "Delivered to the recipient", 1),
    ("DELIVERY_FAILED", "Delivery attempt failed; the note gives the reason", 0),
    ("RETURNED_TO_SENDER", "Sent back to the sender", 1),
    ("DECLARED_LOST", "Declared lost after a search", 1),
    ("CANCELLED", "Booking cancelled by the sender before collection", 1),
)
# name, fuel, payload kg, list price GBP (2016), litres per 100 km, litres per fill-up, days between fill-ups
VEHICLE_TYPES = (
    ("Small Van", "Diesel", 700, 24_000, 8.5, (40, 60), (24, 42)),
    ("Large Van", "Diesel", 1_300, 34_000, 11.0, (50, 75), (21, 38)),
    ("Electric Van", "Electric", 900, 46_000, 0.0, (0, 0), (0, 0)),
    ("Cargo Bike", "Electric", 150, 9_000, 0.0, (0, 0), (0, 0)),
    ("Box Truck", "Diesel", 3_500, 62_000, 18.0, (110, 160), (18, 32)),
    ("Articulated Lorry", "Diesel", 20_000, 118_000, 32.0, (320, 480), (14, 24)),
)
# code, name, region, opened, share of the traffic, late-delivery factor, number-plate letters
DEPOTS = (
    ("LON", "London Park Royal", "London", "2009-04-01", 30, 1.45, "LK"),
    ("MAN", "Manchester Trafford Park", "North West", "2011-03-07", 16, 1.0, "MA"),
    ("BHM", "Birmingham Hams Hall", "West Midlands", "2012-09-17", 15, 0.95, "BK"),
    ("LDS", "Leeds Stourton", "Yorkshire", "2014-05-12", 10, 0.8, "YA"),
    ("GLA", "Glasgow Eurocentral", "Scotland", "2015-10-05", 9, 1.3, "SV"),
    ("BRS", "Bristol Avonmouth", "South West", "2016-02-29", 8, 0.75, "WA"),
    ("NCL", "Newcastle Team Valley", "North East", "2021-09-06", 6, 1.0, "NL"),
    ("CWL", "Cardiff Wentloog", "Wales", "2018-06-18", 6, 0.95, "CA"),
)
# depot code -> the towns it serves: (town, postcode area, area type, routes, weight among the depot's addresses)
TOWNS = {
    "LON": (("London", "W", "Urban", 3, 6), ("Croydon", "CR", "Suburban", 1, 2), ("Watford", "WD", "Suburban", 1, 1)),
    "MAN": (
        ("Manchester", "M", "Urban", 2, 5),
        ("Stockport", "SK", "Suburban", 1, 2),
        ("Bolton", "BL", "Suburban", 1, 2),
    ),
    "BHM": (
        ("Birmingham", "B", "Urban", 2, 5),
        ("Coventry", "CV", "Urban", 1, 2),
        ("Wolverhampton", "WV", "Suburban", 1, 2),
    ),
    "LDS": (("Leeds", "LS", "Urban", 2, 4), ("Bradford", "BD", "Urban", 1, 2), ("Harrogate", "HG", "Rural", 1, 1)),
    "GLA": (("Glasgow", "G", "Urban", 2, 4), ("Edinburgh", "EH", "Urban", 1, 3), ("Inverness", "IV", "Rural", 1, 1)),
    "BRS": (("Bristol", "BS", "Urban", 1, 4), ("Bath", "BA", "Suburban", 1, 1), ("Taunton", "TA", "Rural", 1, 1)),
    "NCL": (
        ("Newcastle upon Tyne", "NE", "Urban", 1, 3),
        ("Sunderland", "SR", "Suburban", 1, 1),
        ("Durham", "DH", "Rural", 1, 1),
    ),
    "CWL": (("Cardiff", "CF", "Urban", 1, 3), ("Swansea", "SA", "Urban", 1, 2), ("Brecon", "LD", "Rural", 1, 1)),
}
# sector: (share of customers, share on contract, median parcel kg, parcels-per-shipment weights, Nov-Dec boost)
SECTORS = {
    "E-commerce": (38, 0.3, 1.2, (74, 17, 6, 3), 1.7),
    "Retail": (18, 0.35, 2.0, (66, 20, 9, 5), 1.5),
    "Healthcare": (10, 0.6, 0.8, (80, 14, 4, 2), 1.0),
    "Manufacturing": (12, 0.55, 7.5, (45, 25, 15, 15), 0.9),
    "Publishing": (10, 0.4, 1.6, (60, 22, 10, 8), 1.4),
    "Food & Drink": (12, 0.3, 3.5, (62, 24, 9, 5), 1.3),
}
CUSTOMER_COUNT = 180
RECIPIENT_ADDRESSES = 420
HOLIDAYS = ((1, 1), (12, 25), (12, 26))
ROUTE_KM = {"Urban": (35, 60), "Suburban": (55, 90), "Rural": (110, 180)}
LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


FIRST_NAMES = _words(
    "Oliver Amelia George Isla Harry Ava Jack Mia Jacob Grace Noah Sophia Charlie Lily Muhammad Emily Thomas Ella "
    "Oscar Freya William Chloe James Evie Leo Aisha Arjun Priya Callum Niamh Rhys Cerys Fraser Eilidh Kwame Zara "
    "Tomasz Agnieszka Daniel Hannah Ryan Megan Liam Ruby Ethan Sophie Mohammed Fatima Connor Holly"
)
LAST_NAMES = _words(
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Robinson Wright Thompson Evans Walker White "
    "Roberts Green Hall Thomas Clarke Jackson Wood Harris Edwards Turner Khan Martin Cooper Hill Ward Hughes Moore "
    "Clark King Harrison Lewis Baker Lee Allen Morris Campbell Stewart Murray MacDonald Kowalski Okafor Begum Singh"
)
STREETS = _words(
    "High Street, Station Road, Church Lane, Mill Lane, Victoria Road, Park Avenue, Queens Road, Kings Road, "
    "Green Lane, Manor Way, Oak Close, Chapel Street, Bridge Street, Albert Road, York Road, Grange Road, "
    "Springfield Road, Orchard Way, Meadow View, Riverside Drive, Castle Street, Hillside Crescent",
    ", ",
)
ESTATES = _words(
    "Riverside Business Park, Enterprise Trading Estate, Station Yard, Harbour Industrial Estate, Beacon Park, "
    "Northgate Business Centre, Millbrook Trade Park, Canal Side Works",
    ", ",
)
COMPANY_HEADS = _words(
    "Northern, Blue Fox, Oak & Ivy, Harbour, Brightside, Kestrel, Thistle, Copperleaf, Riverbank, Summit, Willow, "
    "Red Kite, Hearth, Pennine, Ashford, Lumen, Tidewater, Bramble, Greystone, Marlow, Heron, Larkspur, Juniper, "
    "Cobalt, Foxglove, Orchard",
    ", ",
)
COMPANY_TAILS = {
    "E-commerce": ("Online", "Direct", "Emporium", "Store", "Boutique"),
    "Retail": ("Home", "Outfitters", "Goods", "Trading Co", "Stores"),
    "Healthcare": ("Pharmacy", "Medical Supplies", "Labs", "Health"),
    "Manufacturing": ("Engineering", "Components", "Fabrication", "Industries"),
    "Publishing": ("Press", "Books", "Publishing", "Editions"),
    "Food & Drink": ("Coffee Roasters", "Bakery", "Foods", "Wines", "Tea Co"),
}


@dataclass(frozen=True)
class Customer:
    id: int
    depot: int
    sector: str
    contract: bool
    discount: float
    signup: str
    volume: float  # how much the account ships, relative to others
    slow_payer: bool
    prefix: str  # of its order references


@dataclass
class Worker:
    """A driver (kind: licence category) or a vehicle (kind: type name), available from `start` to `end`."""

    id: int
    depot: int
    kind: str
    start: str
    end: str | None  # last day, inclusive
    factor: float = 1.0  # drivers: how often their delivery attempts fail, relative to the mean

    def active(self, first: str, last: str | None = None) -> bool:
        return self.start <= first and (self.end is None or (last or first) <= self.end)


@dataclass
class World:
    """What the activity draws on: the addresses, customers, drivers and vehicles, and the incidents so far."""

    pool: dict[tuple[int, str], list[tuple[int, int]]] = field(default_factory=dict)  # (depot, town) -> (addr, route)
    area: dict[int, str] = field(default_factory=dict)  # RouteID -> area type
    customers: list[Customer] = field(default_factory=list)
    drivers: list[Worker] = field(default_factory=list)
    vehicles: list[Worker] = field(default_factory=list)
    incidents: list[tuple[Any, ...]] = field(default_factory=list)  # Incident rows without their ID


def day_between(rng: random.Random, start: date, end: date) -> str:
    return (start + timedelta(rng.randint(0, (end - start).days))).isoformat()


def towns_of(depot_id: int) -> tuple[tuple[str, str, str, int, int], ...]:
    return TOWNS[DEPOTS[depot_id - 1][0]]


def working(day: date) -> bool:
    """Deliveries and collections run Monday to Saturday, except on bank holidays around the new year."""
    return day.weekday() != 6 and (day.month, day.day) not in HOLIDAYS


def after(day: date, n: int) -> date:
    """The `n`-th working day after `day` (`day` itself, or the next working day, when `n` is 0)."""
    while not working(day):
        day += timedelta(1)
    for _ in range(n):
        day += timedelta(1)
        while not working(day):
            day += timedelta(1)
    return day


def insert_lookups(conn: sqlite3.Connection) -> None:
    levels = [(i, *level[:5]) for i, level in enumerate(SERVICE_LEVELS, 1)]
    conn.executemany("INSERT INTO ServiceLevel VALUES (?, ?, ?, ?, ?, ?)", levels)
    conn.executemany("INSERT INTO EventType VALUES (?, ?, ?, ?)", [(i, *e) for i, e in enumerate(EVENT_TYPES, 1)])
    types = [(i, *kind[:3]) for i, kind in enumerate(VEHICLE_TYPES, 1)]
    conn.executemany("INSERT INTO VehicleType VALUES (?, ?, ?, ?)", types)


def insert_network(conn: sqlite3.Connection, rng: random.Random, world: World) -> None:
    """Depots, their routes (one or more per town) and a pool of recipient addresses, more in busier towns."""
    depots = [(i, d[0], d[1], TOWNS[d[0]][0][0], d[2], d[3], d[4] * 1500) for i, d in enumerate(DEPOTS, 1)]
    conn.executemany("INSERT INTO Depot VALUES (?, ?, ?, ?, ?, ?, ?)", depots)
    routes: list[tuple[Any, ...]] = []
    total_share = sum(depot[4] for depot in DEPOTS)
    for depot_id, (code, _, _, _, share, _, _) in enumerate(DEPOTS, 1):
        towns = TOWNS[code]
        town_weight = sum(town[4] for town in towns)
        number = 0
        for town, _, kind, count, weight in towns:
            ids = []
            for _ in range(count):
                number += 1
                ids.append(len(routes) + 1)
                routes.append((ids[-1], f"{code}-{number:02d}", depot_id, town, kind, rng.randint(*ROUTE_KM[kind])))
                world.area[ids[-1]] = kind
            size = max(4, round(RECIPIENT_ADDRESSES * share / total_share * weight / town_weight))
            world.pool[(depot_id, town)] = [(_address(conn, rng, depot_id, town), rng.choice(ids)) for _ in range(size)]
    conn.executemany("INSERT INTO Route VALUES (?, ?, ?, ?, ?, ?)", routes)


def _address(conn: sqlite3.Connection, rng: random.Random, depot_id: int, town: str, business: bool = False) -> int:
    area = next(t[1] for t in towns_of(depot_id) if t[0] == town)
    street = (
        f"Unit {rng.randint(1, 40)}, {rng.choice(ESTATES)}"
        if business
        else f"{rng.randint(1, 180)} {rng.choice(STREETS)}"
    )
    postcode = f"{area}{rng.randint(1, 28)} {rng.randint(1, 9)}{rng.choice(LETTERS)}{rng.choice(LETTERS)}"
    cursor = conn.execute("INSERT INTO Address VALUES (NULL, ?, ?, ?, ?)", (street, town, postcode, depot_id))
    return int(cursor.lastrowid or 0)


def insert_customers(conn: sqlite3.Connection, rng: random.Random, world: World) -> None:
    """Business accounts, in sign-up order; a contract account ships more and pays later, at a discount."""
    signups = sorted(
        day_between(rng, date(2018, 1, 1), date(2021, 12, 31))
        if rng.random() < 0.45
        else day_between(rng, FIRST_DAY, date(2024, 10, 31))
        for _ in range(CUSTOMER_COUNT)
    )
    names: set[str] = set()
    rows = []
    for customer_id, signup in enumerate(signups, 1):
        sector = rng.choices(list(SECTORS), weights=[s[0] for s in SECTORS.values()])[0]
        contract = rng.random() < SECTORS[sector][1]
        name = f"{rng.choice(COMPANY_HEADS)} {rng.choice(COMPANY_TAILS[sector])}"
        while name in names:
            name = f"{rng.choice(COMPANY_HEADS)} {rng.choice(COMPANY_TAILS[sector])} Ltd"
        names.add(name)
        depot_id = rng.choices(range(1, len(DEPOTS) + 1), weights=[d[4] for d in DEPOTS])[0]
        towns = towns_of(depot_id)
        town = rng.choices([t[0] for t in towns], weights=[t[4] for t in towns])[0]
        address = _address(conn, rng, depot_id, town, business=True)
        discount = round(rng.uniform(0.06, 0.2), 2) if contract else 0.0
        volume = rng.lognormvariate(1.0, 0.7) if contract else rng.lognormvariate(-0.4, 0.8)
        volume *= 0.0 if rng.random() < 0.06 else 1.0  # signed up, never shipped
        prefix = "".join(word[0] for word in name.split() if word[0].isalpha()).upper()
        slow = rng.random() < 0.15
        world.customers.append(
            Customer(customer_id, depot_id, sector, contract, discount, signup, volume, slow, prefix)
        )
        credit = float(rng.choice((2500, 5000, 10000, 20000))) if contract else None
        email = f"shipping@{''.join(ch for ch in name.lower() if ch.isalnum())}.example.co.uk"
        kind = "Contract" if contract else "Pay As You Go"
        rows.append(
            (customer_id, f"C{10000 + customer_id}", name, sector, kind, discount, credit, address, email, signup)
        )
    conn.executemany("INSERT INTO Customer VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def insert_fleet(conn: sqlite3.Connection, rng: random.Random, world: World) -> None:
    """Vehicles: old vans are retired in 2022-2024 and replaced (by electric vans in three depots from 2023)."""
    rows: list[list[Any]] = []
    plates: set[str] = set()

    def buy(depot_id: int, kind: str, bought: str) -> Worker:
        type_id = next(i for i, v in enumerate(VEHICLE_TYPES, 1) if v[0] == kind)
        year, month = int(bought[:4]), int(bought[5:7])
        age = year % 100 if 3 <= month < 9 else (year % 100 + 50 if month >= 9 else (year - 1) % 100 + 50)
        plate = ""
        while not plate or plate in plates:
            plate = f"{DEPOTS[depot_id - 1][6]}{age:02d} {''.join(rng.choice(LETTERS) for _ in range(3))}"
        plates.add(plate)
        price = round(VEHICLE_TYPES[type_id - 1][3] * (1 + 0.045 * (year - 2016)) * rng.uniform(0.93, 1.05), 2)
        rows.append([len(rows) + 1, plate, type_id, depot_id, bought, price, None])
        world.vehicles.append(Worker(len(rows), depot_id, kind, bought, None))
        return world.vehicles[-1]

    for depot_id, (code, _, _, opened, share, _, _) in enumerate(DEPOTS, 1):
        since = date.fromisoformat(max(opened, "2016-01-04"))
        for _ in range(round(share / 4) + 2):
            kind = rng.choice(("Small Van", "Small Van", "Large Van"))
            van = buy(depot_id, kind, day_between(rng, since, date(2021, 12, 31)))
            if van.start < "2018-07-01" and rng.random() < 0.65:
                retired = day_between(rng, date(2022, 3, 1), date(2024, 10, 31))
                rows[van.id - 1][6] = retired
                van.end = (date.fromisoformat(retired) - timedelta(1)).isoformat()
                electric = code in ("LON", "BRS", "MAN") and retired >= "2023-01-01"
                buy(depot_id, "Electric Van" if electric else van.kind, retired)
        for kind, count in (("Box Truck", 1 + (share >= 15)), ("Articulated Lorry", 1 + (share >= 25))):
            for _ in range(count):
                buy(depot_id, kind, day_between(rng, since, date(2021, 12, 31)))
        if code == "LON":
            for _ in range(3):
                buy(depot_id, "Cargo Bike", "2022-05-16")
    conn.executemany("INSERT INTO Vehicle VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def insert_drivers(conn: sqlite3.Connection, rng: random.Random, world: World) -> None:
    """Drivers per depot and licence; some leave and are replaced, and agency drivers cover each Nov-Dec peak."""
    rows: list[list[Any]] = []

    def hire(depot_id: int, licence: str, hired: str, agency: bool, left: str | None = None) -> Worker:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        rows.append([len(rows) + 1, first, last, depot_id, licence, "Agency" if agency else "Employee", hired, left])
        factor = rng.lognormvariate(0, 0.45) * (1.4 if agency else 1.0)
        world.drivers.append(Worker(len(rows), depot_id, licence, hired, left, factor))
        return world.drivers[-1]

    for depot_id, (_, _, _, opened, share, _, _) in enumerate(DEPOTS, 1):
        since = date.fromisoformat(max(opened, "2012-01-02")) - timedelta(30)
        for licence, count in (("B", round(share / 4) + 3), ("C1", 2 + (share >= 15)), ("C+E", 2 + (share >= 25))):
            for k in range(count):
                driver = hire(depot_id, licence, day_between(rng, since, date(2021, 12, 31)), rng.random() < 0.15)
                if k >= (2 if licence == "B" else 1) and rng.random() < 0.3:  # turnover; the first stay for cover
                    driver.end = day_between(rng, date(2022, 2, 1), date(2024, 11, 30))
                    rows[driver.id - 1][7] = driver.end
                    successor = date.fromisoformat(driver.end) + timedelta(rng.randint(1, 21))
                    hire(depot_id, licence, successor.isoformat(), rng.random() < 0.4)
        for year in range(FIRST_DAY.year, LAST_DAY.year + 1):
            for _ in range(2 if share >= 15 else 1):
                hired = date(year, 11, rng.randint(1, 7)).isoformat()
                left = None if year == LAST_DAY.year else date(year + 1, 1, rng.randint(2, 10)).isoformat()
                hire(depot_id, "B", hired, True, left)
    conn.executemany("INSERT INTO Driver VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
