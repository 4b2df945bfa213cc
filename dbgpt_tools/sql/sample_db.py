"""The bundled sample database: a small music & electronics retailer (sales, HR, payments), 2019-2024.

Generated with the stdlib only, deterministically (`random.Random(42)`, no wall clock), so every install
has the same rows and the text-to-SQL dev set (`benchmarks/text2sql_dev.json`) has fixed answers.

Longer than the other modules because most of it is data (the DDL with its comments, the catalogue, the
geography, the staff plan); the generator itself is the last third.
"""

from __future__ import annotations

import random
import sqlite3
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

from dbgpt_tools.sql.bundled import ensure_bundled

SAMPLE_DB_NAME = "sample_sales"
SAMPLE_DB_COMMENT = (
    "Sample music & electronics store (2019-2024): regions, customers, employees, suppliers, categories, "
    "products, orders, order items and payments."
)
VERSION = 1
"""Generator version, stored in `PRAGMA user_version`: a file of an older version is rebuilt."""

SEED = 42
FIRST_DAY = date(2019, 1, 1)
LAST_DAY = date(2024, 12, 31)

DDL = """
CREATE TABLE regions ( -- sales regions the business reports on
    region_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE -- e.g. 'Europe', 'North America'
);
CREATE TABLE categories ( -- product categories
    category_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE, -- e.g. 'Vinyl', 'Headphones', 'Books'
    description TEXT
);
CREATE TABLE suppliers ( -- companies the products are bought from
    supplier_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    country TEXT NOT NULL, -- country the supplier is based in
    contact_email TEXT NOT NULL
);
CREATE TABLE products ( -- the catalogue
    product_id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE, -- stock keeping unit, e.g. 'VIN-0001'
    name TEXT NOT NULL,
    category_id INTEGER NOT NULL REFERENCES categories(category_id),
    supplier_id INTEGER NOT NULL REFERENCES suppliers(supplier_id),
    unit_price REAL NOT NULL, -- current list price in USD (older orders were priced lower)
    unit_cost REAL NOT NULL, -- what one unit costs us, in USD
    launch_date TEXT NOT NULL, -- YYYY-MM-DD, first day the product could be ordered
    discontinued INTEGER NOT NULL DEFAULT 0 -- 1 when no longer sold (no orders after 2023-06-30)
);
CREATE TABLE employees ( -- staff; sales representatives take orders
    employee_id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL, -- job title, e.g. 'Sales Representative'
    department TEXT NOT NULL, -- Executive, Sales, Support, Marketing, Finance, Engineering, HR, Operations
    hire_date TEXT NOT NULL, -- YYYY-MM-DD
    salary INTEGER NOT NULL, -- yearly gross salary in USD
    manager_id INTEGER REFERENCES employees(employee_id), -- NULL for the CEO
    region_id INTEGER NOT NULL REFERENCES regions(region_id) -- region the employee works for
);
CREATE TABLE customers ( -- people and companies who buy from us
    customer_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL, -- full name of the customer (or contact person)
    email TEXT NOT NULL UNIQUE,
    city TEXT NOT NULL,
    country TEXT NOT NULL,
    region_id INTEGER NOT NULL REFERENCES regions(region_id),
    signup_date TEXT NOT NULL, -- YYYY-MM-DD, when the account was created
    segment TEXT NOT NULL -- 'Consumer', 'Small Business' or 'Enterprise'
);
CREATE TABLE orders ( -- one row per order
    order_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(customer_id),
    employee_id INTEGER NOT NULL REFERENCES employees(employee_id), -- sales representative credited
    order_date TEXT NOT NULL, -- YYYY-MM-DD, between 2019-01-01 and 2024-12-31
    status TEXT NOT NULL, -- 'shipped', 'pending', 'cancelled' or 'returned'
    channel TEXT NOT NULL, -- 'web', 'phone' or 'store'
    shipped_date TEXT, -- YYYY-MM-DD; NULL unless status is 'shipped' or 'returned'
    ship_city TEXT NOT NULL,
    ship_country TEXT NOT NULL
);
CREATE TABLE order_items ( -- the lines of an order
    order_item_id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(order_id),
    product_id INTEGER NOT NULL REFERENCES products(product_id),
    quantity INTEGER NOT NULL, -- units ordered
    unit_price REAL NOT NULL, -- price per unit when ordered, in USD, before discount
    discount REAL NOT NULL DEFAULT 0, -- fraction off, 0 to 0.2; line revenue = quantity * unit_price * (1 - discount)
    UNIQUE (order_id, product_id)
);
CREATE TABLE payments ( -- money received; shipped and returned orders are paid, some in two payments
    payment_id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(order_id),
    amount REAL NOT NULL, -- USD; an order's payments add up to ROUND(SUM(quantity * unit_price * (1 - discount)), 2)
    method TEXT NOT NULL, -- 'credit_card', 'paypal', 'bank_transfer' or 'gift_card'
    paid_at TEXT NOT NULL -- YYYY-MM-DD HH:MM:SS
);
CREATE INDEX idx_customers_region ON customers(region_id);
CREATE INDEX idx_orders_customer ON orders(customer_id);
CREATE INDEX idx_orders_date ON orders(order_date);
CREATE INDEX idx_order_items_order ON order_items(order_id);
CREATE INDEX idx_order_items_product ON order_items(product_id);
CREATE INDEX idx_payments_order ON payments(order_id);
"""

# region -> countries -> (cities, weight of the country among customers)
GEOGRAPHY: dict[str, dict[str, tuple[tuple[str, ...], int]]] = {
    "North America": {
        "United States": (("New York", "Los Angeles", "Chicago", "Austin", "Seattle", "Nashville"), 30),
        "Canada": (("Toronto", "Vancouver", "Montreal"), 7),
    },
    "Europe": {
        "United Kingdom": (("London", "Manchester", "Glasgow"), 9),
        "Germany": (("Berlin", "Hamburg", "Munich"), 8),
        "France": (("Paris", "Lyon", "Marseille"), 6),
        "Spain": (("Madrid", "Barcelona"), 4),
        "Italy": (("Milan", "Rome"), 3),
        "Netherlands": (("Amsterdam", "Rotterdam"), 3),
        "Sweden": (("Stockholm", "Gothenburg"), 2),
    },
    "Asia Pacific": {
        "Japan": (("Tokyo", "Osaka"), 6),
        "Australia": (("Sydney", "Melbourne", "Brisbane"), 5),
        "South Korea": (("Seoul", "Busan"), 3),
        "Singapore": (("Singapore",), 2),
        "India": (("Mumbai", "Bangalore"), 3),
    },
    "Latin America": {
        "Brazil": (("Sao Paulo", "Rio de Janeiro"), 5),
        "Mexico": (("Mexico City", "Guadalajara"), 4),
        "Argentina": (("Buenos Aires",), 2),
        "Chile": (("Santiago",), 1),
        "Colombia": (("Bogota", "Medellin"), 1),
    },
    "Middle East & Africa": {
        "South Africa": (("Johannesburg", "Cape Town"), 2),
        "United Arab Emirates": (("Dubai",), 2),
        "Nigeria": (("Lagos",), 1),
    },
}

FIRST_NAMES = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Maria",
    "Luis",
    "Ana",
    "Hiroshi",
    "Yuki",
    "Wei",
    "Mei",
    "Arjun",
    "Priya",
    "Lars",
    "Ingrid",
    "Pierre",
    "Camille",
    "Giulia",
    "Marco",
    "Sofia",
    "Lucas",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Amara",
    "Kwame",
    "Fatima",
    "Omar",
    "Chloe",
    "Mateo",
    "Valentina",
    "Diego",
    "Hannah",
    "Felix",
    "Nora",
    "Oscar",
    "Ines",
    "Ravi",
    "Aiko",
    "Min-jun",
    "Seo-yeon",
    "Tom",
    "Grace",
    "Daniel",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
    "Muller",
    "Schmidt",
    "Dubois",
    "Rossi",
    "Silva",
    "Santos",
    "Tanaka",
    "Suzuki",
    "Kim",
    "Park",
    "Chen",
    "Wang",
    "Patel",
    "Sharma",
    "Johansson",
    "Okafor",
    "Haddad",
]

# category -> (description, seasonal boost in December, [(product name, list price in USD)])
CATALOGUE: dict[str, tuple[str, float, list[tuple[str, float]]]] = {
    "Vinyl": (
        "Long-playing records",
        1.5,
        [
            ("Kind of Blue - Miles Davis (LP)", 27.99),
            ("Rumours - Fleetwood Mac (LP)", 29.99),
            ("Abbey Road - The Beatles (LP)", 31.99),
            ("Blue - Joni Mitchell (LP)", 26.99),
            ("Random Access Memories - Daft Punk (2LP)", 38.99),
            ("Back to Black - Amy Winehouse (LP)", 28.99),
            ("The Dark Side of the Moon - Pink Floyd (LP)", 32.99),
            ("Nevermind - Nirvana (LP)", 25.99),
            ("A Love Supreme - John Coltrane (LP)", 24.99),
            ("Currents - Tame Impala (2LP)", 36.99),
        ],
    ),
    "CDs": (
        "Compact discs",
        1.3,
        [
            ("Thriller - Michael Jackson (CD)", 12.99),
            ("OK Computer - Radiohead (CD)", 11.99),
            ("Back in Black - AC/DC (CD)", 10.99),
            ("Buena Vista Social Club (CD)", 13.99),
            ("21 - Adele (CD)", 12.49),
            ("The Miseducation of Lauryn Hill (CD)", 11.49),
            ("Discovery - Daft Punk (CD)", 12.99),
            ("Goldberg Variations - Glenn Gould (CD)", 15.99),
        ],
    ),
    "Headphones": (
        "Headphones and earbuds",
        1.6,
        [
            ("Aurora ANC Over-Ear Headphones", 299.0),
            ("Aurora Studio Monitor Headphones", 149.0),
            ("Pulse True Wireless Earbuds", 129.0),
            ("Pulse Sport Earbuds", 79.0),
            ("Echo Open-Back Reference Headphones", 399.0),
            ("Kestrel Kids Headphones", 39.0),
            ("Nimbus Noise-Cancelling Earbuds", 199.0),
        ],
    ),
    "Speakers": (
        "Portable, smart and hi-fi speakers",
        1.5,
        [
            ("Boomcase Portable Bluetooth Speaker", 119.0),
            ("Boomcase Mini Speaker", 59.0),
            ("Halo Smart Speaker", 99.0),
            ("Monolith Bookshelf Speakers (Pair)", 449.0),
            ("Monolith Floorstanding Speakers (Pair)", 1299.0),
            ("Arc Soundbar 2.1", 349.0),
            ("Tidal Waterproof Speaker", 89.0),
        ],
    ),
    "Turntables": (
        "Record players and turntables",
        1.7,
        [
            ("Orbit Belt-Drive Turntable", 279.0),
            ("Orbit Plus Turntable with USB", 349.0),
            ("Revolve Direct-Drive DJ Turntable", 599.0),
            ("Cadence Suitcase Record Player", 89.0),
            ("Vintage Walnut Turntable", 749.0),
        ],
    ),
    "Instruments": (
        "Guitars, keyboards, drums and strings",
        1.6,
        [
            ("Maple Dreadnought Acoustic Guitar", 329.0),
            ("Sunburst Electric Guitar", 549.0),
            ("Four-String Bass Guitar", 479.0),
            ("88-Key Digital Piano", 899.0),
            ("61-Key MIDI Keyboard Controller", 179.0),
            ("Concert Ukulele", 69.0),
            ("Cajon Drum Box", 119.0),
            ("Electronic Drum Kit", 799.0),
            ("Student Violin 4/4", 239.0),
        ],
    ),
    "Books": (
        "Books about music and musicianship",
        1.8,
        [
            ("How Music Works - David Byrne", 18.99),
            ("The Rest Is Noise - Alex Ross", 21.99),
            ("This Is Your Brain on Music - Daniel Levitin", 17.99),
            ("Chronicles: Volume One - Bob Dylan", 16.99),
            ("Just Kids - Patti Smith", 15.99),
            ("Musicophilia - Oliver Sacks", 17.49),
            ("Mixing Secrets for the Small Studio", 34.99),
            ("Guitar Chord Bible", 14.99),
        ],
    ),
    "Accessories": (
        "Cables, strings, cleaning kits and other small items",
        1.2,
        [
            ("Guitar Strings Set (Light Gauge)", 9.99),
            ("Vinyl Record Cleaning Kit", 24.99),
            ("Anti-Static Inner Sleeves (50 pack)", 14.99),
            ("Headphone Stand (Walnut)", 39.99),
            ("Braided Audio Cable 3 m", 12.99),
            ("Guitar Picks Variety Pack", 6.99),
            ("Replacement Stylus Cartridge", 59.99),
            ("Clip-On Instrument Tuner", 16.99),
            ("Record Storage Crate", 29.99),
        ],
    ),
}

# supplier name, country, categories it supplies
SUPPLIERS = (
    ("Groove Pressing Co.", "United States", ("Vinyl",)),
    ("Silverline Media", "Germany", ("CDs", "Vinyl")),
    ("Aurora Audio Ltd.", "United Kingdom", ("Headphones",)),
    ("Pulse Acoustics", "South Korea", ("Headphones", "Speakers")),
    ("Monolith Sound", "Denmark", ("Speakers",)),
    ("Orbit Analog", "Japan", ("Turntables",)),
    ("Tonewood Instruments", "United States", ("Instruments",)),
    ("Keystone Musical", "Japan", ("Instruments",)),
    ("Northbank Publishing", "United Kingdom", ("Books",)),
    ("Gearbox Accessories", "China", ("Accessories", "Turntables")),
)

# Orders per month relative to the yearly mean (holiday peak, slow late winter) and yearly growth.
MONTH_WEIGHT = (0.8, 0.72, 0.85, 0.9, 0.95, 0.88, 0.84, 0.9, 1.0, 1.05, 1.45, 1.75)
YEAR_WEIGHT = {2019: 1.0, 2020: 1.3, 2021: 1.38, 2022: 1.28, 2023: 1.45, 2024: 1.62}
ORDER_COUNT = 2600  # expected number of orders; rounding per day adds or drops a few
CUSTOMER_COUNT = 420
SEGMENTS = (("Consumer", 70), ("Small Business", 22), ("Enterprise", 8))
STATUSES = ("shipped", "pending", "cancelled", "returned")


@dataclass(frozen=True)
class _Product:
    product_id: int
    category: str
    price: float
    launch: str
    discontinued: bool
    weight: float


@dataclass(frozen=True)
class _Customer:
    customer_id: int
    city: str
    country: str
    region_id: int
    signup: str
    segment: str


def ensure_sample_db(path: Path) -> Path:
    """Create the sample database at `path` unless a file of this generator version (or newer) is there.

    The file is built beside `path` and moved into place with `os.replace`, so readers and concurrent
    callers only ever see a complete database.
    """
    return ensure_bundled(path, VERSION, "orders", _build)


def _build(conn: sqlite3.Connection) -> None:
    conn.executescript(DDL)
    rng = random.Random(SEED)
    with conn:
        region_ids = _insert_regions(conn)
        products = _insert_catalogue(conn, rng)
        reps = _insert_employees(conn, rng, region_ids)
        customers = _insert_customers(conn, rng, region_ids)
        _insert_orders(conn, rng, customers, products, reps)


def _insert_regions(conn: sqlite3.Connection) -> dict[str, int]:
    region_ids = {name: i for i, name in enumerate(GEOGRAPHY, start=1)}
    conn.executemany("INSERT INTO regions VALUES (?, ?)", [(i, name) for name, i in region_ids.items()])
    return region_ids


def _insert_catalogue(conn: sqlite3.Connection, rng: random.Random) -> list[_Product]:
    conn.executemany(
        "INSERT INTO categories VALUES (?, ?, ?)",
        [(i, name, desc) for i, (name, (desc, _, _)) in enumerate(CATALOGUE.items(), start=1)],
    )
    conn.executemany(
        "INSERT INTO suppliers VALUES (?, ?, ?, ?)",
        [
            (i, name, country, f"orders@{name.split()[0].lower()}.example.com")
            for i, (name, country, _) in enumerate(SUPPLIERS, start=1)
        ],
    )
    products: list[_Product] = []
    rows = []
    for category_id, (category, (_, _, items)) in enumerate(CATALOGUE.items(), start=1):
        suppliers = [i for i, (_, _, cats) in enumerate(SUPPLIERS, start=1) if category in cats]
        for n, (name, price) in enumerate(items, start=1):
            product_id = len(products) + 1
            if rng.random() < 0.75:
                launch = _day(date(2015, 1, 1), date(2018, 12, 31), rng)
            else:
                launch = _day(date(2019, 3, 1), date(2023, 9, 30), rng)
            discontinued = launch < "2018-01-01" and rng.random() < 0.25
            margin = rng.uniform(0.35, 0.6)
            weight = rng.lognormvariate(0, 0.5) / price**0.45
            products.append(_Product(product_id, category, price, launch, discontinued, weight))
            rows.append(
                (
                    product_id,
                    f"{category[:3].upper()}-{n:04d}",
                    name,
                    category_id,
                    rng.choice(suppliers),
                    price,
                    round(price * (1 - margin), 2),
                    launch,
                    int(discontinued),
                )
            )
    conn.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return products


def _insert_employees(
    conn: sqlite3.Connection, rng: random.Random, region_ids: dict[str, int]
) -> dict[int, list[tuple[int, str]]]:
    """Insert the staff; return the sales representatives per region as (employee_id, hire_date)."""
    rows: list[tuple[object, ...]] = []
    used_emails: set[str] = set()
    hq = region_ids["North America"]

    def add(title: str, dept: str, salary: int, manager: int | None, region: int, hired: str) -> int:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}@harmonia.example".lower()
        while email in used_emails:
            email = f"{first}.{last}{rng.randint(2, 99)}@harmonia.example".lower()
        used_emails.add(email)
        employee_id = len(rows) + 1
        pay = round(salary * rng.uniform(0.9, 1.15) / 500) * 500
        rows.append((employee_id, first, last, email, title, dept, hired, pay, manager, region))
        return employee_id

    def hired(start: int, end: int) -> str:
        return _day(date(start, 1, 1), date(end, 12, 31), rng)

    ceo = add("Chief Executive Officer", "Executive", 240_000, None, hq, "2012-03-01")
    heads = {
        dept: add(title, dept, salary, ceo, hq, hired(2012, 2016))
        for title, dept, salary in (
            ("VP of Sales", "Sales", 185_000),
            ("Chief Financial Officer", "Finance", 195_000),
            ("Chief Technology Officer", "Engineering", 200_000),
            ("Head of People", "HR", 140_000),
            ("Marketing Director", "Marketing", 150_000),
            ("Head of Customer Support", "Support", 120_000),
            ("Operations Director", "Operations", 145_000),
        )
    }
    reps: dict[int, list[tuple[int, str]]] = {}
    for region, region_id in region_ids.items():
        manager = add("Regional Sales Manager", "Sales", 125_000, heads["Sales"], region_id, hired(2013, 2017))
        count = 4 if region in ("North America", "Europe") else 3
        for k in range(count):
            when = hired(2014, 2018) if k == 0 else hired(2015, 2023)
            rep = add("Sales Representative", "Sales", 72_000, manager, region_id, when)
            reps.setdefault(region_id, []).append((rep, when))
    staff = (
        ("Support Specialist", "Support", 58_000, ("North America",) * 2 + ("Europe",) * 2 + ("Asia Pacific",)),
        ("Software Engineer", "Engineering", 135_000, ("North America",) * 3 + ("Europe",) * 2),
        ("Data Analyst", "Engineering", 105_000, ("North America", "Europe")),
        ("Marketing Specialist", "Marketing", 78_000, ("North America", "Europe", "Asia Pacific")),
        ("Accountant", "Finance", 82_000, ("North America", "Europe")),
        ("HR Generalist", "HR", 70_000, ("North America",)),
        ("Warehouse Coordinator", "Operations", 55_000, ("North America", "Europe", "Asia Pacific")),
    )
    for title, dept, salary, regions in staff:
        for region in regions:
            add(title, dept, salary, heads[dept], region_ids[region], hired(2016, 2024))
    conn.executemany("INSERT INTO employees VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return reps


def _insert_customers(conn: sqlite3.Connection, rng: random.Random, region_ids: dict[str, int]) -> list[_Customer]:
    places = [
        (region, country, cities)
        for region, countries in GEOGRAPHY.items()
        for country, (cities, _) in countries.items()
    ]
    weights = [weight for countries in GEOGRAPHY.values() for _, weight in countries.values()]
    signups = sorted(
        _day(date(2018, 1, 1), date(2018, 12, 31), rng)
        if rng.random() < 0.22
        else _day(FIRST_DAY, date(2024, 11, 30), rng)
        for _ in range(CUSTOMER_COUNT)
    )
    segment_names = [name for name, _ in SEGMENTS]
    segment_weights = [weight for _, weight in SEGMENTS]
    customers: list[_Customer] = []
    rows = []
    used_names: set[str] = set()
    for customer_id, signup in enumerate(signups, start=1):
        region, country, cities = rng.choices(places, weights=weights)[0]
        city = rng.choice(cities)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        while name in used_names:  # unique names keep "which customer" questions unambiguous
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        used_names.add(name)
        domain = rng.choice(("example.com", "example.org", "example.net", "mail.example"))
        email = f"{name.replace(' ', '.')}@{domain}".lower()
        segment = rng.choices(segment_names, weights=segment_weights)[0]
        customer = _Customer(customer_id, city, country, region_ids[region], signup, segment)
        customers.append(customer)
        rows.append((customer_id, name, email, city, country, customer.region_id, signup, segment))
    conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return customers


def _insert_orders(
    conn: sqlite3.Connection,
    rng: random.Random,
    customers: list[_Customer],
    products: list[_Product],
    reps: dict[int, list[tuple[int, str]]],
) -> None:
    days = [FIRST_DAY + timedelta(n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
    day_weights = [YEAR_WEIGHT[d.year] * MONTH_WEIGHT[d.month - 1] * (1.15 if d.weekday() >= 5 else 1.0) for d in days]
    # Orders per day follow the weights closely (stochastic rounding), so yearly and monthly charts show the trend.
    scale = ORDER_COUNT / sum(day_weights)
    order_days = [d for d, w in zip(days, day_weights, strict=True) for _ in range(int(w * scale + rng.random()))]
    signups = [c.signup for c in customers]
    # A few customers never order; the rest are heavy-tailed.
    loyalty = list(accumulate(0.0 if rng.random() < 0.06 else rng.lognormvariate(0, 0.8) for _ in customers))
    december_boost = {name: boost for name, (_, boost, _) in CATALOGUE.items()}
    other_countries = [c for countries in GEOGRAPHY.values() for c in countries]

    orders: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    payments: list[tuple[Any, ...]] = []
    for order_id, day in enumerate(order_days, start=1):
        iso = day.isoformat()
        eligible = bisect_right(signups, iso)
        customer = customers[min(bisect_right(loyalty, rng.random() * loyalty[eligible - 1]), eligible - 1)]
        rep = rng.choice([r for r, hire in reps[customer.region_id] if hire <= iso])
        channel = rng.choices(("web", "phone", "store"), weights=(62, 18, 20))[0]
        if iso >= "2024-12-12" and rng.random() < 0.7:
            status = "pending"
        else:
            status = rng.choices(STATUSES, weights=(88, 1, 6, 5))[0]
        shipped = (day + timedelta(rng.randint(1, 5))).isoformat() if status in ("shipped", "returned") else None
        ship_city, ship_country = customer.city, customer.country
        if rng.random() < 0.04:  # a gift sent abroad
            ship_country = rng.choice(other_countries)
            ship_city = rng.choice(_cities_of(ship_country))
        orders.append((order_id, customer.customer_id, rep, iso, status, channel, shipped, ship_city, ship_country))

        total = 0.0
        for product in _pick_products(rng, products, day, december_boost):
            quantity = _quantity(rng, product, customer.segment)
            unit_price = round(product.price * (1 - 0.03 * (LAST_DAY.year - day.year)), 2)
            discount = _discount(rng, day, customer.segment)
            items.append((len(items) + 1, order_id, product.product_id, quantity, unit_price, discount))
            total += quantity * unit_price * (1 - discount)
        total = _round_cents(conn, total)

        if status in ("shipped", "returned"):
            paid_day = (day + timedelta(rng.randint(0, 2))).isoformat()
            paid = f"{paid_day} {rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
            method = _payment_method(rng, day, customer.segment)
            if total > 60 and rng.random() < 0.08:  # part paid with a gift card
                part = rng.choice((25.0, 50.0))
                payments.append((len(payments) + 1, order_id, part, "gift_card", paid))
                payments.append((len(payments) + 1, order_id, _round_cents(conn, total - part), method, paid))
            else:
                payments.append((len(payments) + 1, order_id, total, method, paid))

    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", orders)
    conn.executemany("INSERT INTO order_items VALUES (?, ?, ?, ?, ?, ?)", items)
    conn.executemany("INSERT INTO payments VALUES (?, ?, ?, ?, ?)", payments)


def _pick_products(
    rng: random.Random, products: list[_Product], day: date, december_boost: dict[str, float]
) -> list[_Product]:
    iso = day.isoformat()
    eligible = [p for p in products if p.launch <= iso and not (p.discontinued and iso > "2023-06-30")]
    weights = []
    for p in eligible:
        weight = p.weight
        if day.month == 12:
            weight *= december_boost[p.category]
        if p.category == "Instruments" and day.year in (2020, 2021):  # everyone learnt an instrument
            weight *= 1.8
        if p.category == "Vinyl":  # the vinyl revival
            weight *= 1 + 0.12 * (day.year - FIRST_DAY.year)
        weights.append(weight)
    count = rng.choices((1, 2, 3, 4, 5), weights=(45, 28, 15, 8, 4))[0]
    picked: list[_Product] = []
    while len(picked) < count:
        product = rng.choices(eligible, weights=weights)[0]
        if product not in picked:
            picked.append(product)
    return picked


def _quantity(rng: random.Random, product: _Product, segment: str) -> int:
    if segment == "Enterprise":
        return rng.randint(2, 12) if product.price < 200 else rng.randint(1, 4)
    if product.price < 40:
        return rng.choices((1, 2, 3, 4), weights=(60, 25, 10, 5))[0]
    return 1 if rng.random() < 0.93 else 2


def _discount(rng: random.Random, day: date, segment: str) -> float:
    if day.month == 11 and day.day >= 22 and rng.random() < 0.6:  # Black Friday week
        return rng.choice((0.15, 0.2))
    if segment == "Enterprise":
        return rng.choice((0.1, 0.1, 0.15))
    if segment == "Small Business":
        return 0.05 if rng.random() < 0.6 else 0.0
    return rng.choice((0.05, 0.1)) if rng.random() < 0.12 else 0.0


def _payment_method(rng: random.Random, day: date, segment: str) -> str:
    if segment == "Enterprise" and rng.random() < 0.7:
        return "bank_transfer"
    paypal = 18 + 4 * (day.year - FIRST_DAY.year)
    return rng.choices(("credit_card", "paypal", "bank_transfer"), weights=(70 - paypal, paypal, 8))[0]


def _round_cents(conn: sqlite3.Connection, amount: float) -> float:
    """Round as SQLite's ROUND does (it differs from Python's `round` on halves), so SQL totals match payments."""
    return float(conn.execute("SELECT ROUND(?, 2)", (amount,)).fetchone()[0])


def _cities_of(country: str) -> tuple[str, ...]:
    return next(countries[country][0] for countries in GEOGRAPHY.values() if country in countries)


def _day(start: date, end: date, rng: random.Random) -> str:
    return (start + timedelta(rng.randint(0, (end - start).days))).isoformat()
