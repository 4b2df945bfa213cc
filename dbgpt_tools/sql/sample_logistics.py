"""The second bundled sample database: a small UK parcel-delivery company (depots, fleet, shipments), 2022-2024.

Generated with the stdlib only, deterministically (`random.Random(42)`, no wall clock), like `sample_sales`, but
named in another style (PascalCase singular tables and columns) and deeper: sixteen tables whose foreign keys chain
over several hops (ParcelEvent -> Parcel -> Shipment -> Customer -> Address -> Depot). The data stops on
2024-12-31 at 18:00, so the last bookings are still in transit and December is not invoiced yet.

This module holds the schema (its `--` comments are what the schema introspection shows the model);
`sample_logistics_world` generates the depots, customers, fleet and drivers, `sample_logistics_activity` the
shipments, scans, invoices, fuel fill-ups and incidents.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from dbgpt_tools.sql.bundled import ensure_bundled
from dbgpt_tools.sql.sample_logistics_activity import (
    insert_fuel_logs,
    insert_incidents,
    insert_invoices,
    insert_shipments,
)
from dbgpt_tools.sql.sample_logistics_world import (
    World,
    insert_customers,
    insert_drivers,
    insert_fleet,
    insert_lookups,
    insert_network,
)

LOGISTICS_DB_NAME = "sample_logistics"
LOGISTICS_DB_COMMENT = (
    "Sample UK parcel-delivery company (2022-2024): Depot, Route, Vehicle, Driver, Customer, Address, Shipment, "
    "Parcel, ParcelEvent tracking scans, Invoice and InvoiceLine, FuelLog and Incident, with lookup tables "
    "ServiceLevel, EventType and VehicleType."
)
VERSION = 1
"""Generator version, stored in `PRAGMA user_version`: a file of an older version is rebuilt."""

SEED = 42

DDL = """
CREATE TABLE ServiceLevel ( -- delivery products a customer can book
    ServiceLevelID INTEGER PRIMARY KEY,
    Code TEXT NOT NULL UNIQUE, -- 'ECO', 'STD', 'EXP' or 'SDY'
    Name TEXT NOT NULL UNIQUE, -- 'Economy', 'Standard', 'Express' or 'Same Day'
    PromisedDays INTEGER NOT NULL, -- working days (Mon-Sat) from collection to delivery; 0 = same day
    BasePrice REAL NOT NULL, -- GBP per shipment at 2022 list prices (+7% in 2023, +11% in 2024)
    PricePerKg REAL NOT NULL -- GBP per kg of the shipment's total weight, at 2022 list prices
);
CREATE TABLE EventType ( -- kinds of parcel tracking scans
    EventTypeID INTEGER PRIMARY KEY,
    Code TEXT NOT NULL UNIQUE, -- e.g. 'COLLECTED', 'OUT_FOR_DELIVERY', 'DELIVERED', 'DELIVERY_FAILED'
    Description TEXT NOT NULL,
    IsFinal INTEGER NOT NULL -- 1 when the parcel's journey ends with this event
);
CREATE TABLE VehicleType ( -- kinds of vehicles in the fleet
    VehicleTypeID INTEGER PRIMARY KEY,
    Name TEXT NOT NULL UNIQUE, -- e.g. 'Small Van', 'Electric Van', 'Articulated Lorry'
    FuelType TEXT NOT NULL, -- 'Diesel' or 'Electric'
    PayloadKg INTEGER NOT NULL -- maximum load in kg
);
CREATE TABLE Depot ( -- sorting and delivery depots
    DepotID INTEGER PRIMARY KEY,
    DepotCode TEXT NOT NULL UNIQUE, -- three letters, e.g. 'LON', 'MAN'
    Name TEXT NOT NULL,
    Town TEXT NOT NULL,
    Region TEXT NOT NULL, -- UK region, e.g. 'London', 'Scotland', 'North West'
    OpenedOn TEXT NOT NULL, -- YYYY-MM-DD
    DailyCapacity INTEGER NOT NULL -- parcels the depot can sort per day
);
CREATE TABLE Route ( -- daily delivery rounds run from a depot, each in one town
    RouteID INTEGER PRIMARY KEY,
    RouteCode TEXT NOT NULL UNIQUE, -- depot code and number, e.g. 'LON-03'
    DepotID INTEGER NOT NULL REFERENCES Depot(DepotID),
    Town TEXT NOT NULL, -- town whose addresses the route delivers to
    AreaType TEXT NOT NULL, -- 'Urban', 'Suburban' or 'Rural'
    PlannedKm INTEGER NOT NULL -- length of one round in km
);
CREATE TABLE Address ( -- customer premises and delivery addresses
    AddressID INTEGER PRIMARY KEY,
    Street TEXT NOT NULL, -- number and street, e.g. '14 Mill Lane'
    Town TEXT NOT NULL,
    Postcode TEXT NOT NULL, -- UK postcode, e.g. 'LS6 2QT'
    DepotID INTEGER NOT NULL REFERENCES Depot(DepotID) -- depot whose area covers the address
);
CREATE TABLE Customer ( -- business accounts that send parcels
    CustomerID INTEGER PRIMARY KEY,
    AccountNumber TEXT NOT NULL UNIQUE, -- e.g. 'C10042'
    CompanyName TEXT NOT NULL UNIQUE,
    Sector TEXT NOT NULL, -- 'E-commerce', 'Retail', 'Healthcare', 'Manufacturing', 'Publishing' or 'Food & Drink'
    AccountType TEXT NOT NULL, -- 'Contract' (monthly terms, discounted) or 'Pay As You Go'
    DiscountRate REAL NOT NULL, -- fraction off list prices, e.g. 0.12; 0 for 'Pay As You Go'
    CreditLimit REAL, -- GBP; NULL for 'Pay As You Go' accounts
    AddressID INTEGER NOT NULL REFERENCES Address(AddressID), -- collection address; its depot collects
    ContactEmail TEXT NOT NULL,
    SignedUpOn TEXT NOT NULL -- YYYY-MM-DD
);
CREATE TABLE Driver ( -- drivers employed at a depot
    DriverID INTEGER PRIMARY KEY,
    FirstName TEXT NOT NULL,
    LastName TEXT NOT NULL,
    DepotID INTEGER NOT NULL REFERENCES Depot(DepotID),
    LicenceCategory TEXT NOT NULL, -- 'B' (vans), 'C1' (box trucks and vans) or 'C+E' (articulated lorries)
    EmploymentType TEXT NOT NULL, -- 'Employee' or 'Agency' (agency staff include the Nov-Dec peak drivers)
    HiredOn TEXT NOT NULL, -- YYYY-MM-DD
    LeftOn TEXT -- YYYY-MM-DD, last day of work; NULL while still employed
);
CREATE TABLE Vehicle ( -- the fleet; each vehicle is based at a depot
    VehicleID INTEGER PRIMARY KEY,
    Registration TEXT NOT NULL UNIQUE, -- UK number plate, e.g. 'LK21 XFD'
    VehicleTypeID INTEGER NOT NULL REFERENCES VehicleType(VehicleTypeID),
    DepotID INTEGER NOT NULL REFERENCES Depot(DepotID),
    PurchasedOn TEXT NOT NULL, -- YYYY-MM-DD
    PurchasePrice REAL NOT NULL, -- GBP
    RetiredOn TEXT -- YYYY-MM-DD; NULL while in service
);
CREATE TABLE Shipment ( -- one booking: a customer sends one or more parcels to one address
    ShipmentID INTEGER PRIMARY KEY,
    CustomerID INTEGER NOT NULL REFERENCES Customer(CustomerID), -- the sender
    ServiceLevelID INTEGER NOT NULL REFERENCES ServiceLevel(ServiceLevelID),
    DeliveryAddressID INTEGER NOT NULL REFERENCES Address(AddressID),
    RouteID INTEGER NOT NULL REFERENCES Route(RouteID), -- delivery round of the address (destination depot)
    DriverID INTEGER REFERENCES Driver(DriverID), -- driver of the delivery; NULL if never out for delivery
    VehicleID INTEGER REFERENCES Vehicle(VehicleID), -- vehicle of the delivery; NULL if never out for delivery
    RecipientName TEXT NOT NULL,
    CustomerReference TEXT, -- the sender's own order number; NULL when none was given
    DeclaredValue REAL, -- GBP value of the contents, for insurance; NULL when not declared
    BookedOn TEXT NOT NULL, -- YYYY-MM-DD, the collection day, 2022-01-01 to 2024-12-31
    DueOn TEXT NOT NULL, -- YYYY-MM-DD, the promised delivery day
    DeliveredOn TEXT, -- YYYY-MM-DD; NULL unless Status is 'Delivered'; late when DeliveredOn > DueOn
    Status TEXT NOT NULL -- 'Delivered', 'In Transit', 'Returned', 'Lost' or 'Cancelled'
);
CREATE TABLE Parcel ( -- the physical packages of a shipment
    ParcelID INTEGER PRIMARY KEY,
    ShipmentID INTEGER NOT NULL REFERENCES Shipment(ShipmentID),
    TrackingNumber TEXT NOT NULL UNIQUE, -- e.g. 'SL48213377GB'
    WeightKg REAL NOT NULL,
    LengthCm INTEGER NOT NULL,
    WidthCm INTEGER NOT NULL,
    HeightCm INTEGER NOT NULL,
    IsFragile INTEGER NOT NULL DEFAULT 0, -- 1 when labelled fragile
    DeliveredAt TEXT -- YYYY-MM-DD HH:MM; NULL when not delivered (yet)
);
CREATE TABLE ParcelEvent ( -- tracking scans: the history of each parcel
    ParcelEventID INTEGER PRIMARY KEY,
    ParcelID INTEGER NOT NULL REFERENCES Parcel(ParcelID),
    EventTypeID INTEGER NOT NULL REFERENCES EventType(EventTypeID),
    DepotID INTEGER NOT NULL REFERENCES Depot(DepotID), -- depot that recorded the scan
    OccurredAt TEXT NOT NULL, -- YYYY-MM-DD HH:MM
    Note TEXT -- reason of a failed delivery, return or loss, e.g. 'Recipient not available'; else NULL
);
CREATE TABLE Invoice ( -- a customer's monthly bill for the shipments booked in that month
    InvoiceID INTEGER PRIMARY KEY,
    InvoiceNumber TEXT NOT NULL UNIQUE, -- e.g. 'INV-2023-05-0042'
    CustomerID INTEGER NOT NULL REFERENCES Customer(CustomerID),
    BillingMonth TEXT NOT NULL, -- YYYY-MM, the month the billed shipments were booked
    IssuedOn TEXT NOT NULL, -- YYYY-MM-DD, the first day of the following month
    DueOn TEXT NOT NULL, -- YYYY-MM-DD, 30 days after issue for 'Contract', 14 for 'Pay As You Go'
    PaidOn TEXT, -- YYYY-MM-DD; NULL while unpaid
    TotalAmount REAL NOT NULL, -- GBP, the sum of its lines
    UNIQUE (CustomerID, BillingMonth)
);
CREATE TABLE InvoiceLine ( -- the charges of an invoice, each for one shipment
    InvoiceLineID INTEGER PRIMARY KEY,
    InvoiceID INTEGER NOT NULL REFERENCES Invoice(InvoiceID),
    ShipmentID INTEGER NOT NULL REFERENCES Shipment(ShipmentID),
    ChargeType TEXT NOT NULL, -- 'Carriage', 'Fuel Surcharge', 'Insurance' or 'Return Fee'
    Amount REAL NOT NULL -- GBP, after the customer's discount
);
CREATE TABLE FuelLog ( -- diesel fill-ups paid with the company fuel card
    FuelLogID INTEGER PRIMARY KEY,
    VehicleID INTEGER NOT NULL REFERENCES Vehicle(VehicleID),
    DriverID INTEGER REFERENCES Driver(DriverID), -- who filled up; NULL when yard staff did it at the depot
    FilledOn TEXT NOT NULL, -- YYYY-MM-DD
    Litres REAL NOT NULL,
    PricePerLitre REAL NOT NULL, -- GBP
    TotalCost REAL NOT NULL, -- GBP, Litres * PricePerLitre rounded to pence
    OdometerKm INTEGER NOT NULL -- odometer reading at the fill-up
);
CREATE TABLE Incident ( -- damaged or lost parcels, complaints, breakdowns and collisions
    IncidentID INTEGER PRIMARY KEY,
    IncidentType TEXT NOT NULL, -- 'Damaged Parcel', 'Lost Parcel', 'Late Delivery Complaint', 'Vehicle Breakdown'...
    OccurredAt TEXT NOT NULL, -- YYYY-MM-DD HH:MM
    ShipmentID INTEGER REFERENCES Shipment(ShipmentID), -- NULL for breakdowns and collisions
    VehicleID INTEGER REFERENCES Vehicle(VehicleID), -- NULL when no vehicle was involved
    DriverID INTEGER REFERENCES Driver(DriverID), -- NULL when no driver was involved
    Severity TEXT NOT NULL, -- 'Low', 'Medium' or 'High'
    Cost REAL, -- GBP paid out (compensation, credit or repair); NULL while open
    ResolvedOn TEXT -- YYYY-MM-DD; NULL while open
);
CREATE INDEX IX_Shipment_Customer ON Shipment(CustomerID);
CREATE INDEX IX_Shipment_BookedOn ON Shipment(BookedOn);
CREATE INDEX IX_Shipment_Route ON Shipment(RouteID);
CREATE INDEX IX_Parcel_Shipment ON Parcel(ShipmentID);
CREATE INDEX IX_ParcelEvent_Parcel ON ParcelEvent(ParcelID);
CREATE INDEX IX_InvoiceLine_Invoice ON InvoiceLine(InvoiceID);
CREATE INDEX IX_InvoiceLine_Shipment ON InvoiceLine(ShipmentID);
CREATE INDEX IX_FuelLog_Vehicle ON FuelLog(VehicleID);
"""


def ensure_logistics_db(path: Path) -> Path:
    """Create the logistics database at `path` unless a file of this generator version (or newer) is there.

    The file is built beside `path` and moved into place with `os.replace`, so readers and concurrent
    callers only ever see a complete database.
    """
    return ensure_bundled(path, VERSION, "Shipment", _build)


def _build(conn: sqlite3.Connection) -> None:
    conn.executescript(DDL)
    rng = random.Random(SEED)
    world = World()
    with conn:
        insert_lookups(conn)
        insert_network(conn, rng, world)
        insert_customers(conn, rng, world)
        insert_fleet(conn, rng, world)
        insert_drivers(conn, rng, world)
        billable = insert_shipments(conn, rng, world)
        insert_invoices(conn, rng, world, billable)
        insert_fuel_logs(conn, rng, world)
        insert_incidents(conn, rng, world)
