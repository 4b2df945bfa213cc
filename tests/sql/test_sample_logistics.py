"""The second bundled database (`sample_logistics`): deterministic, sixteen PascalCase tables chained by declared
foreign keys without an orphan, comments the schema introspection reads, rebuilt for a new generator version,
registered read-only beside `sample_sales`, and the benchmark questions' gold SQL answering as documented."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dbgpt_tools.errors import Forbidden
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql import sample_logistics
from dbgpt_tools.sql.sample_db import SAMPLE_DB_NAME, ensure_sample_db
from dbgpt_tools.sql.sample_logistics import LOGISTICS_DB_COMMENT, LOGISTICS_DB_NAME, VERSION, ensure_logistics_db
from tests.scripted import ScriptedChatModel
from tests.sql.conftest import table_hashes

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "benchmarks" / "text2sql_logistics_questions.md"
AS_OF = "2024-12-31 18:00"
TABLES = {
    "ServiceLevel",
    "EventType",
    "VehicleType",
    "Depot",
    "Route",
    "Address",
    "Customer",
    "Driver",
    "Vehicle",
    "Shipment",
    "Parcel",
    "ParcelEvent",
    "Invoice",
    "InvoiceLine",
    "FuelLog",
    "Incident",
}
FOREIGN_KEYS = {  # (table, column, referenced table)
    ("Route", "DepotID", "Depot"),
    ("Address", "DepotID", "Depot"),
    ("Customer", "AddressID", "Address"),
    ("Driver", "DepotID", "Depot"),
    ("Vehicle", "VehicleTypeID", "VehicleType"),
    ("Vehicle", "DepotID", "Depot"),
    ("Shipment", "CustomerID", "Customer"),
    ("Shipment", "ServiceLevelID", "ServiceLevel"),
    ("Shipment", "DeliveryAddressID", "Address"),
    ("Shipment", "RouteID", "Route"),
    ("Shipment", "DriverID", "Driver"),
    ("Shipment", "VehicleID", "Vehicle"),
    ("Parcel", "ShipmentID", "Shipment"),
    ("ParcelEvent", "ParcelID", "Parcel"),
    ("ParcelEvent", "EventTypeID", "EventType"),
    ("ParcelEvent", "DepotID", "Depot"),
    ("Invoice", "CustomerID", "Customer"),
    ("InvoiceLine", "InvoiceID", "Invoice"),
    ("InvoiceLine", "ShipmentID", "Shipment"),
    ("FuelLog", "VehicleID", "Vehicle"),
    ("FuelLog", "DriverID", "Driver"),
    ("Incident", "ShipmentID", "Shipment"),
    ("Incident", "VehicleID", "Vehicle"),
    ("Incident", "DriverID", "Driver"),
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_logistics_db(tmp_path_factory.mktemp("logistics") / f"{LOGISTICS_DB_NAME}.sqlite")


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


@pytest.fixture
def conn(db: Path) -> Iterator[sqlite3.Connection]:
    connection = _connect(db)
    yield connection
    connection.close()


def _one(conn: sqlite3.Connection, sql: str) -> Any:
    return conn.execute(sql).fetchone()[0]


def test_constants() -> None:
    assert LOGISTICS_DB_NAME == "sample_logistics" != SAMPLE_DB_NAME
    assert "\n" not in LOGISTICS_DB_COMMENT and "parcel" in LOGISTICS_DB_COMMENT.lower()
    assert [table for table in sorted(TABLES) if table not in LOGISTICS_DB_COMMENT] == []


def test_tables_use_pascal_case_singular_names_keys_and_comments(conn: sqlite3.Connection) -> None:
    ddl = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    assert set(ddl) == TABLES and len(TABLES) >= 12
    for table in TABLES:
        assert re.fullmatch(r"(?:[A-Z][a-z]+)+", table) and not re.search(r"[^s]s$", table), table  # singular
        columns = conn.execute(f"PRAGMA table_info({table})").fetchall()
        assert [col[1] for col in columns if not re.fullmatch(r"[A-Z][A-Za-z]*", col[1])] == [], table
        assert [col[1] for col in columns if col[5]] == [f"{table}ID"], f"{table} has no {table}ID primary key"
        assert "--" in ddl[table].splitlines()[0], f"{table} has no table comment"
    assert _one(conn, "PRAGMA user_version") == VERSION


def test_declared_foreign_keys_and_no_orphan(conn: sqlite3.Connection) -> None:
    declared = {
        (table, row[3], row[2]): row[4] for table in TABLES for row in conn.execute(f"PRAGMA foreign_key_list({table})")
    }
    assert set(declared) == FOREIGN_KEYS
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    for (table, column, parent), parent_column in declared.items():
        orphans = _one(
            conn,
            f"SELECT COUNT(*) FROM {table} c WHERE c.{column} IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_column} = c.{column})",
        )
        assert orphans == 0, f"{table}.{column} -> {parent}"
        used = _one(conn, f"SELECT COUNT(DISTINCT {column}) FROM {table}")
        assert isinstance(used, int) and used > 1, f"{table}.{column} is never filled in"


def test_multi_hop_join_paths_hold_together(conn: sqlite3.Connection) -> None:
    events = _one(conn, "SELECT COUNT(*) FROM ParcelEvent")
    reached = _one(
        conn,
        "SELECT COUNT(*) FROM ParcelEvent pe JOIN Parcel p ON p.ParcelID = pe.ParcelID "
        "JOIN Shipment s ON s.ShipmentID = p.ShipmentID JOIN Customer c ON c.CustomerID = s.CustomerID "
        "JOIN Address a ON a.AddressID = c.AddressID JOIN Depot d ON d.DepotID = a.DepotID",
    )
    assert isinstance(events, int) and events > 5_000 and reached == events
    # Two paths to the same fact agree: an invoice line's shipment belongs to the invoice's customer...
    assert (
        _one(
            conn,
            "SELECT COUNT(*) FROM InvoiceLine l JOIN Invoice i ON i.InvoiceID = l.InvoiceID "
            "JOIN Shipment s ON s.ShipmentID = l.ShipmentID WHERE s.CustomerID != i.CustomerID",
        )
        == 0
    )
    # ...and a shipment's route, address, driver and vehicle belong to one depot.
    assert (
        _one(
            conn,
            "SELECT COUNT(*) FROM Shipment s JOIN Route r ON r.RouteID = s.RouteID "
            "JOIN Address a ON a.AddressID = s.DeliveryAddressID LEFT JOIN Driver dr ON dr.DriverID = s.DriverID "
            "LEFT JOIN Vehicle v ON v.VehicleID = s.VehicleID "
            "WHERE a.DepotID != r.DepotID OR a.Town != r.Town OR dr.DepotID != r.DepotID OR v.DepotID != r.DepotID",
        )
        == 0
    )


def test_sizes_dates_amounts_and_nulls(conn: sqlite3.Connection) -> None:
    counts = {table: _one(conn, f"SELECT COUNT(*) FROM {table}") for table in TABLES}
    assert 5_000 <= sum(counts.values()) <= 25_000
    assert 1_000 <= counts["Shipment"] < counts["Parcel"] < counts["ParcelEvent"]
    day, minute = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]", " [0-2][0-9]:[0-5][0-9]"
    for table, column, pattern in (
        ("Shipment", "BookedOn", day),
        ("Shipment", "DueOn", day),
        ("Shipment", "DeliveredOn", day),
        ("Parcel", "DeliveredAt", day + minute),
        ("ParcelEvent", "OccurredAt", day + minute),
        ("Invoice", "PaidOn", day),
        ("FuelLog", "FilledOn", day),
        ("Incident", "OccurredAt", day + minute),
    ):
        bad = _one(conn, f"SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL AND {column} NOT GLOB '{pattern}'")
        assert bad == 0, f"{table}.{column}"
    first, last = conn.execute("SELECT MIN(BookedOn), MAX(BookedOn) FROM Shipment").fetchone()
    assert first.startswith("2022-01-") and last.startswith("2024-12-")
    assert _one(conn, f"SELECT COUNT(*) FROM ParcelEvent WHERE OccurredAt > '{AS_OF}'") == 0
    for table, column in (
        ("InvoiceLine", "Amount"),
        ("Invoice", "TotalAmount"),
        ("FuelLog", "TotalCost"),
        ("Incident", "Cost"),
        ("Shipment", "DeclaredValue"),
    ):
        assert _one(conn, f"SELECT COUNT(*) FROM {table} WHERE ABS({column} * 100 - ROUND({column} * 100)) > 1e-6") == 0
    # NULLs say something: not delivered (yet), never out for delivery, not paid, not resolved, not declared.
    assert _one(conn, "SELECT COUNT(*) FROM Shipment WHERE (DeliveredOn IS NULL) != (Status != 'Delivered')") == 0
    assert (
        _one(
            conn,
            "SELECT COUNT(*) FROM Parcel p JOIN Shipment s ON s.ShipmentID = p.ShipmentID "
            "WHERE (p.DeliveredAt IS NULL) != (s.Status != 'Delivered') "
            "OR substr(p.DeliveredAt, 1, 10) != s.DeliveredOn",
        )
        == 0
    )
    statuses = dict(conn.execute("SELECT Status, COUNT(*) FROM Shipment GROUP BY Status").fetchall())
    assert set(statuses) == {"Delivered", "In Transit", "Returned", "Lost", "Cancelled"}
    assert (
        _one(
            conn,
            "SELECT COUNT(*) FROM Shipment s WHERE (s.DriverID IS NULL) != NOT EXISTS (SELECT 1 FROM Parcel p "
            "JOIN ParcelEvent pe ON pe.ParcelID = p.ParcelID WHERE p.ShipmentID = s.ShipmentID AND pe.EventTypeID = 3)",
        )
        == 0
    )
    for sql in (
        "SELECT COUNT(*) FROM Invoice WHERE PaidOn IS NULL",
        "SELECT COUNT(*) FROM Shipment WHERE DeclaredValue IS NULL",
        "SELECT COUNT(*) FROM Shipment WHERE CustomerReference IS NULL",
        "SELECT COUNT(*) FROM Driver WHERE LeftOn IS NOT NULL",
        "SELECT COUNT(*) FROM Vehicle WHERE RetiredOn IS NOT NULL",
        "SELECT COUNT(*) FROM FuelLog WHERE DriverID IS NULL",
    ):
        assert _one(conn, sql) != 0, sql


def test_invoices_add_up(conn: sqlite3.Connection) -> None:
    assert (
        _one(
            conn,
            "SELECT COUNT(*) FROM Invoice i WHERE ABS(i.TotalAmount - "
            "(SELECT ROUND(SUM(Amount), 2) FROM InvoiceLine l WHERE l.InvoiceID = i.InvoiceID)) > 0.001",
        )
        == 0
    )
    assert (
        _one(
            conn,
            "SELECT COUNT(*) FROM InvoiceLine l JOIN Shipment s ON s.ShipmentID = l.ShipmentID "
            "JOIN Invoice i ON i.InvoiceID = l.InvoiceID "
            "WHERE s.Status IN ('Cancelled', 'Lost', 'In Transit') OR substr(s.BookedOn, 1, 7) != i.BillingMonth",
        )
        == 0
    )
    assert _one(conn, "SELECT MAX(BillingMonth) FROM Invoice") == "2024-11"  # December is billed in January


def test_distributions_give_analytical_questions_an_answer(conn: sqlite3.Connection) -> None:
    late = "ROUND(AVG(s.DeliveredOn > s.DueOn), 4)"
    delivered = (
        "FROM Shipment s JOIN ServiceLevel sl ON sl.ServiceLevelID = s.ServiceLevelID WHERE Status = 'Delivered'"
    )
    by_level = dict(conn.execute(f"SELECT sl.Code, {late} {delivered} GROUP BY sl.Code").fetchall())
    assert by_level["SDY"] > by_level["EXP"] > by_level["STD"] > by_level["ECO"] > 0
    assert _one(conn, f"SELECT COUNT(*) {delivered} AND s.DeliveredOn > s.DueOn") > 100
    by_year = dict(conn.execute(f"SELECT substr(BookedOn, 1, 4), {late} {delivered} GROUP BY 1").fetchall())
    assert by_year["2022"] > by_year["2023"] > by_year["2024"]
    by_month = dict(conn.execute("SELECT substr(BookedOn, 6, 2), COUNT(*) FROM Shipment GROUP BY 1").fetchall())
    assert by_month["11"] + by_month["12"] > 1.4 * (by_month["01"] + by_month["02"])
    busiest = _one(
        conn,
        "SELECT d.DepotCode FROM Shipment s JOIN Route r ON r.RouteID = s.RouteID "
        "JOIN Depot d ON d.DepotID = r.DepotID GROUP BY d.DepotID ORDER BY COUNT(*) DESC LIMIT 1",
    )
    assert busiest == "LON"
    diesel = dict(conn.execute("SELECT substr(FilledOn, 1, 7), AVG(PricePerLitre) FROM FuelLog GROUP BY 1").fetchall())
    assert diesel["2022-07"] > diesel["2024-07"] + 0.3
    late_by_depot = conn.execute(
        "SELECT d.DepotCode, COUNT(*) FROM Shipment s JOIN Route r ON r.RouteID = s.RouteID "
        "JOIN Depot d ON d.DepotID = r.DepotID WHERE s.DeliveredOn > s.DueOn GROUP BY d.DepotID"
    ).fetchall()
    assert len(late_by_depot) == 8  # a three-table join with an answer for every depot


def test_existing_current_file_is_kept(tmp_path: Path) -> None:
    path = ensure_logistics_db(tmp_path / "kept.sqlite")
    before = path.stat().st_mtime_ns, path.stat().st_ino
    assert ensure_logistics_db(path) == path
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before


def test_a_new_generator_version_rebuilds_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ensure_logistics_db(tmp_path / "l.sqlite")
    inode = path.stat().st_ino
    monkeypatch.setattr(sample_logistics, "VERSION", VERSION + 1)
    ensure_logistics_db(path)
    assert path.stat().st_ino != inode
    conn = _connect(path)
    assert _one(conn, "PRAGMA user_version") == VERSION + 1
    conn.close()
    monkeypatch.setattr(sample_logistics, "VERSION", VERSION)
    inode = path.stat().st_ino
    ensure_logistics_db(path)  # an older generator keeps the newer file
    assert path.stat().st_ino == inode


def test_older_broken_or_foreign_files_are_rebuilt(db: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE Shipment (ShipmentID INTEGER PRIMARY KEY)")
    conn.execute(f"PRAGMA user_version = {VERSION - 1}")
    conn.commit()
    conn.close()
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"not a database at all")
    sales = ensure_sample_db(tmp_path / "sales.sqlite")  # the right version, but another database
    for path in (old, broken, sales):
        ensure_logistics_db(path)
        assert table_hashes(path) == table_hashes(db), path.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.sqlite", "old.sqlite", "sales.sqlite"]


def test_registered_read_only_beside_sample_sales(settings: Settings) -> None:
    with_samples = settings.model_copy(update={"sample_db": True})
    first = Runtime(with_samples, chat_model=ScriptedChatModel.replying())
    second = Runtime(with_samples, chat_model=ScriptedChatModel.replying())  # another worker, or a restart
    try:
        sources = {source.db_name: source for source in second.datasources.list()}
        assert sorted(sources) == sorted([SAMPLE_DB_NAME, LOGISTICS_DB_NAME])
        logistics = sources[LOGISTICS_DB_NAME]
        assert logistics.read_only and logistics.db_type == "sqlite"
        assert logistics.db_path.endswith(f"{LOGISTICS_DB_NAME}.sqlite") and logistics.comment == LOGISTICS_DB_COMMENT
        with pytest.raises(Forbidden):
            second.sql.run_sql(LOGISTICS_DB_NAME, "DELETE FROM Incident")
        result = second.sql.run_sql(
            LOGISTICS_DB_NAME,
            "SELECT d.DepotCode, COUNT(*) FROM Shipment s JOIN Route r ON r.RouteID = s.RouteID "
            "JOIN Depot d ON d.DepotID = r.DepotID GROUP BY d.DepotCode ORDER BY 2 DESC",
        )
        assert len(result.rows) == 8 and result.rows[0][0] == "LON"
    finally:
        first.close()
        second.close()


def test_a_user_datasource_of_that_name_is_left_alone(settings: Settings) -> None:
    mine = Runtime(settings, chat_model=ScriptedChatModel.replying())
    try:
        path = ensure_sample_db(settings.data_dir / "mine.sqlite")
        mine.datasources.create({"db_name": LOGISTICS_DB_NAME, "db_type": "sqlite", "db_path": str(path)})
    finally:
        mine.close()
    runtime = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=ScriptedChatModel.replying())
    try:
        sources = {source.db_name: source for source in runtime.datasources.list()}
        assert sorted(sources) == sorted([SAMPLE_DB_NAME, LOGISTICS_DB_NAME])  # sample_sales is still added
        assert sources[LOGISTICS_DB_NAME].db_path.endswith("mine.sqlite")
    finally:
        runtime.close()


def test_schema_introspection_reads_the_comments(settings: Settings) -> None:
    runtime = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=ScriptedChatModel.replying())
    try:
        schema = runtime.schemas.schema(runtime.datasources.resolve(LOGISTICS_DB_NAME))
    finally:
        runtime.close()
    tables = {table.name: table for table in schema.tables}
    assert set(tables) == TABLES
    assert [name for name, table in tables.items() if not table.comment] == []
    assert tables["Shipment"].comment == "one booking: a customer sends one or more parcels to one address"
    columns = {col.name: col for col in tables["Shipment"].columns}
    assert "late when DeliveredOn > DueOn" in (columns["DeliveredOn"].comment or "")
    assert columns["DeliveredOn"].nullable and not columns["BookedOn"].nullable
    assert "its depot collects" in (next(c for c in tables["Customer"].columns if c.name == "AddressID").comment or "")
    commented = [c.name for t in tables.values() for c in t.columns if c.comment]
    assert len(commented) >= 60  # most columns carry a comment
    refs = {(fk.columns[0], fk.ref_table) for fk in tables["ParcelEvent"].foreign_keys}
    assert refs == {("ParcelID", "Parcel"), ("EventTypeID", "EventType"), ("DepotID", "Depot")}


def _questions() -> list[tuple[str, str, int, str | None, str]]:
    """(id, question, rows, single answer or None, gold SQL) of each question of the benchmark file."""
    pattern = re.compile(r"### ([EMH]\d\d)\. (.+?)\n\nRows: (\d+)(?: \(answer: (.+?)\))?\n\n```sql\n(.+?)\n```", re.S)
    return [(m[1], m[2], int(m[3]), m[4], m[5]) for m in pattern.finditer(QUESTIONS.read_text(encoding="utf-8"))]


def test_the_benchmark_has_thirty_questions_by_level() -> None:
    ids = [item[0] for item in _questions()]
    assert len(ids) == len(set(ids)) == 30
    assert {level: sum(i.startswith(level) for i in ids) for level in "EMH"} == {"E": 10, "M": 10, "H": 10}
    assert QUESTIONS.read_text(encoding="utf-8").count("```sql") == 30  # none missed by the parser


@pytest.mark.parametrize("item", _questions(), ids=lambda item: item[0])
def test_benchmark_gold_sql_answers_as_documented(conn: sqlite3.Connection, item: tuple[Any, ...]) -> None:
    _, _, count, answer, sql = item
    rows = conn.execute(sql).fetchall()
    assert len(rows) == count and any(value is not None for value in rows[0])
    if answer is not None:
        assert str(rows[0][0]) == answer


def test_the_benchmark_json_holds_the_documented_questions(conn: sqlite3.Connection) -> None:
    questions = json.loads((ROOT / "benchmarks" / "text2sql_logistics.json").read_text())
    documented = re.findall(r"### ([EMH]\d\d)\. (.+)", QUESTIONS.read_text())
    assert [(q["id"][1:].upper(), q["question"]) for q in questions] == [(n, t.strip()) for n, t in documented]
    assert {q["db"] for q in questions} == {LOGISTICS_DB_NAME}
    assert all(conn.execute(q["gold_sql"]).fetchall() for q in questions)  # every gold query answers something
