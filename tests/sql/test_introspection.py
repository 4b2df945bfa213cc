"""Introspection of live SQLite, DuckDB and (when reachable) PostgreSQL databases, and the DDL-like rendering."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from dbgpt_tools.errors import InvalidInput, Upstream
from dbgpt_tools.sql import introspection, schema_text
from dbgpt_tools.sql.introspection import introspect
from dbgpt_tools.sql.schema_models import (
    ColumnInfo,
    ForeignKeyInfo,
    SchemaInfo,
    TableInfo,
)
from dbgpt_tools.sql.schema_text import render_table
from tests.conftest import PG_URL

# Read at import time: the autouse fixture of conftest removes DBGPT_* variables while tests run.

SHOP_DDL = """
CREATE TABLE customers ( -- people who buy
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL, -- full legal name
  "order" TEXT, -- a reserved word as column name
  bio TEXT,
  photo BLOB,
  country TEXT DEFAULT '--' -- ISO code
);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
  status TEXT, -- order state
  amount REAL, placed_on DATE);
CREATE TABLE order_lines (
  order_id INTEGER,
  line_no INTEGER,
  product TEXT,
  PRIMARY KEY (order_id, line_no),
  FOREIGN KEY (order_id) REFERENCES orders(id)
);
CREATE TABLE empty_things (id INTEGER PRIMARY KEY, label TEXT);
CREATE VIEW shipped_orders AS SELECT * FROM orders WHERE status = 'shipped';
"""


def _build_shop(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SHOP_DDL)
    conn.executemany(
        'INSERT INTO customers (name, "order", bio, photo, country) VALUES (?, ?, ?, ?, ?)',
        [(f"Customer {i}", None, "x" * 100 + f" {i}", b"\x00\x01", "DE") for i in range(20)],
    )
    statuses = ["shipped", "pending", "cancelled", "it's lost"]
    conn.executemany(
        "INSERT INTO orders (customer_id, status, amount, placed_on) VALUES (?, ?, ?, ?)",
        [(i % 20 + 1, statuses[i % 4], 10.5 * i, "2024-05-01") for i in range(50)],
    )
    conn.executemany("INSERT INTO order_lines VALUES (?, ?, ?)", [(1, n, "widget") for n in range(1, 4)])
    conn.commit()
    conn.close()


READ_PRAGMAS = frozenset({"table_info", "table_xinfo", "foreign_key_list", "index_list", "index_info", "index_xinfo"})


def _read_only_sqlite(path: Path, read_pragmas: frozenset[str] = READ_PRAGMAS) -> sa.Engine:
    """An engine whose connections refuse every write, temp table, ATTACH and all but catalog PRAGMAs."""
    denied = {
        getattr(sqlite3, name)
        for name in dir(sqlite3)
        if name.startswith(("SQLITE_CREATE_", "SQLITE_DROP_", "SQLITE_ALTER"))
        or name in {"SQLITE_INSERT", "SQLITE_UPDATE", "SQLITE_DELETE", "SQLITE_ATTACH", "SQLITE_DETACH"}
    }

    def authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        if action in denied or (action == sqlite3.SQLITE_PRAGMA and arg2 is not None and arg1 not in read_pragmas):
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        conn.set_authorizer(authorizer)
        return conn

    return sa.create_engine("sqlite://", creator=connect)


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[SchemaInfo]:
    path = tmp_path / "shop.db"
    _build_shop(path)
    engine = _read_only_sqlite(path)
    yield introspect(engine, "shop", max_value_chars=20)
    engine.dispose()


def _table(schema: SchemaInfo, name: str) -> TableInfo:
    return next(table for table in schema.tables if table.name == name)


def _column(table: TableInfo, name: str) -> ColumnInfo:
    return next(col for col in table.columns if col.name == name)


def test_read_only_engine_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    _build_shop(path)
    with _read_only_sqlite(path).connect() as conn:
        for statement in ("CREATE TEMP TABLE t (a)", "PRAGMA query_only = 0", "DELETE FROM orders"):
            with pytest.raises(sa.exc.DatabaseError):
                conn.exec_driver_sql(statement)


def test_errors_and_max_tables(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    _build_shop(path)
    with pytest.raises(Upstream, match="cannot read the catalog entry of table 'customers'"):
        introspect(_read_only_sqlite(path, read_pragmas=frozenset()), "shop")
    with pytest.raises(Upstream, match="cannot read the schema of database 'gone'"):
        introspect(sa.create_engine(f"sqlite:///file:{tmp_path / 'missing.db'}?mode=ro&uri=true"), "gone")
    with pytest.raises(InvalidInput):
        introspect(_read_only_sqlite(path), "shop", max_value_chars=2)
    capped = introspect(_read_only_sqlite(path), "shop", max_tables=2, sample_values=0)
    assert [t.name for t in capped.tables] == ["customers", "empty_things"]
    assert all(not col.samples for t in capped.tables for col in t.columns)


def test_sqlite_tables_keys_and_nullability(shop: SchemaInfo) -> None:
    assert shop.dialect == "sqlite" and shop.db_name == "shop"
    assert [t.name for t in shop.tables] == ["customers", "empty_things", "order_lines", "orders", "shipped_orders"]
    orders = _table(shop, "orders")
    assert _column(orders, "id").primary_key and not _column(orders, "id").nullable
    assert not _column(orders, "customer_id").nullable and not _column(orders, "customer_id").primary_key
    assert _column(orders, "status").nullable
    assert orders.foreign_keys == [ForeignKeyInfo(columns=["customer_id"], ref_table="customers", ref_columns=["id"])]
    lines = _table(shop, "order_lines")
    assert [c.name for c in lines.columns if c.primary_key] == ["order_id", "line_no"]
    assert lines.foreign_keys[0].ref_table == "orders"


def test_sqlite_samples_truncated_and_skipped(shop: SchemaInfo) -> None:
    orders = _table(shop, "orders")
    assert _column(orders, "status").samples == ["shipped", "pending", "cancelled"]
    assert _column(orders, "amount").samples == ["0.0", "10.5", "21.0"]
    assert _column(orders, "customer_id").samples == []  # keys carry no information for the model
    customers = _table(shop, "customers")
    bio = _column(customers, "bio").samples
    assert bio == ["x" * 19 + "…"]  # 20 characters, the same prefix for every row: one distinct value
    assert _column(customers, "photo").samples == []
    assert _column(customers, "order").samples == []  # all NULL


def test_sqlite_row_counts_and_comments(shop: SchemaInfo) -> None:
    assert _table(shop, "orders").row_estimate == 50
    assert _table(shop, "empty_things").row_estimate == 0
    assert _table(shop, "shipped_orders").row_estimate is None
    customers = _table(shop, "customers")
    assert customers.comment == "people who buy"
    assert _column(customers, "name").comment == "full legal name"
    assert _column(customers, "order").comment == "a reserved word as column name"
    assert _column(customers, "country").comment == "ISO code"  # the '--' default is not a comment
    assert _column(customers, "bio").comment is None
    orders = _table(shop, "orders")
    assert _column(orders, "status").comment == "order state"  # the last column of a multi-column line
    assert _column(orders, "id").comment is None
    assert _table(shop, "shipped_orders").comment == "view"


def test_sqlite_stat1_estimate_and_capped_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "stats.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE analysed (id INTEGER PRIMARY KEY, k TEXT); CREATE INDEX analysed_k ON analysed(k);"
        "CREATE TABLE big (id INTEGER PRIMARY KEY);"
    )
    conn.executemany("INSERT INTO analysed (k) VALUES (?)", [(str(i),) for i in range(30)])
    conn.execute("ANALYZE")
    conn.executemany("INSERT INTO analysed (k) VALUES (?)", [(str(i),) for i in range(30)])  # stat1 now stale
    conn.executemany("INSERT INTO big (id) VALUES (?)", [(i,) for i in range(40)])
    conn.commit()
    conn.close()
    monkeypatch.setattr(introspection, "ROW_COUNT_CAP", 25)  # counting stops there...
    monkeypatch.setattr(schema_text, "ROW_COUNT_CAP", 25)  # ...and the text says so
    schema = introspect(_read_only_sqlite(path), "stats")
    assert _table(schema, "analysed").row_estimate == 30  # the catalog's estimate, not a count
    assert _table(schema, "big").row_estimate == 26
    assert "-- over 25 rows" in render_table(_table(schema, "big"))


def test_render_sqlite_table(shop: SchemaInfo) -> None:
    assert render_table(_table(shop, "orders"), dialect="sqlite") == (
        "CREATE TABLE orders (  -- 50 rows\n"
        "  id INTEGER PRIMARY KEY,\n"
        "  customer_id INTEGER REFERENCES customers(id),\n"
        "  status TEXT,  -- order state; e.g. 'shipped', 'pending', 'cancelled'\n"
        "  amount REAL,  -- e.g. 0.0, 10.5, 21.0\n"
        "  placed_on DATE  -- e.g. '2024-05-01'\n"
        ");"
    )
    customers = render_table(_table(shop, "customers"), dialect="sqlite", with_samples=False)
    assert '  "order" TEXT,  -- a reserved word as column name\n' in customers
    assert "e.g." not in customers
    lines = render_table(_table(shop, "order_lines"), dialect="sqlite")
    assert "  order_id INTEGER REFERENCES orders(id),\n" in lines
    assert "  PRIMARY KEY (order_id, line_no)\n);" in lines


def test_render_quotes_samples_and_composite_keys() -> None:
    table = TableInfo(
        name="Order Items",
        row_estimate=1,
        columns=[
            ColumnInfo(name="a", type="INT", primary_key=True, nullable=False),
            ColumnInfo(name="b", type="INT", primary_key=True, nullable=False),
            ColumnInfo(name="note", type="VARCHAR(10)", samples=["it's"]),
        ],
        foreign_keys=[ForeignKeyInfo(columns=["a", "b"], ref_table="parent", ref_columns=["x", "y"])],
    )
    assert render_table(table, dialect="mysql") == (
        "CREATE TABLE `Order Items` (  -- 1 row\n"
        "  a INT,\n"
        "  b INT,\n"
        "  note VARCHAR(10),  -- e.g. 'it''s'\n"
        "  PRIMARY KEY (a, b),\n"
        "  FOREIGN KEY (a, b) REFERENCES parent(x, y)\n"
        ");"
    )
    assert render_table(table).startswith('CREATE TABLE "Order Items" (')


def test_duckdb_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, logo BLOB)")
    conn.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), status VARCHAR)"
    )
    conn.execute("COMMENT ON TABLE orders IS 'customer orders'")
    conn.execute("COMMENT ON COLUMN orders.status IS 'order state'")
    conn.execute("CREATE VIEW shipped AS SELECT * FROM orders WHERE status = 'shipped'")
    conn.execute("INSERT INTO customers SELECT i, 'Customer ' || i, NULL FROM range(1, 11) t(i)")
    conn.execute("INSERT INTO orders SELECT i, i % 10 + 1, ['shipped', 'pending'][i % 2 + 1] FROM range(1, 31) t(i)")
    conn.close()
    engine = sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True})
    try:
        schema = introspect(engine, "shop")
    finally:
        engine.dispose()
    assert schema.dialect == "duckdb"
    assert [t.name for t in schema.tables] == ["customers", "orders", "shipped"]
    orders = _table(schema, "orders")
    assert orders.comment == "customer orders" and orders.row_estimate == 30
    assert orders.foreign_keys == [ForeignKeyInfo(columns=["customer_id"], ref_table="customers", ref_columns=["id"])]
    assert _column(orders, "id").primary_key and not _column(orders, "id").nullable
    assert _column(orders, "status").comment == "order state"
    assert sorted(_column(orders, "status").samples) == ["pending", "shipped"]
    customers = _table(schema, "customers")
    assert not _column(customers, "name").nullable and _column(customers, "logo").samples == []
    assert _table(schema, "shipped").comment == "view"
    assert "customer_id INTEGER REFERENCES customers(id)," in render_table(orders, dialect="duckdb")


@pytest.fixture(scope="module")
def pg_engine(pg_url: dict[str, object]) -> Iterator[tuple[sa.Engine, str]]:
    """A fresh schema on the test PostgreSQL server and a read-only engine whose search_path is that schema."""
    url = sa.make_url(PG_URL)
    admin = sa.create_engine(url, connect_args={"connect_timeout": 3})
    schema = f"schema_info_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        conn.exec_driver_sql(f"SET search_path = {schema}")
        conn.exec_driver_sql("CREATE TYPE order_state AS ENUM ('shipped', 'pending')")
        conn.exec_driver_sql('CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, "Region" varchar(20))')
        conn.exec_driver_sql("COMMENT ON TABLE customers IS 'people who buy'")
        conn.exec_driver_sql("COMMENT ON COLUMN customers.name IS 'full name'")
        conn.exec_driver_sql(
            'CREATE TABLE "order" (id int, line int, customer_id int REFERENCES customers(id), '
            "state order_state, ref uuid, doc jsonb, PRIMARY KEY (id, line))"
        )
        conn.exec_driver_sql("INSERT INTO customers (name) SELECT 'Customer ' || g FROM generate_series(1, 12) g")
        conn.exec_driver_sql(
            "INSERT INTO \"order\" SELECT g, 1, 1, 'shipped', gen_random_uuid(), '{}' FROM generate_series(1, 7) g"
        )
        conn.exec_driver_sql("ANALYZE customers")
        conn.exec_driver_sql("CREATE VIEW big_customers AS SELECT * FROM customers")
    engine = sa.create_engine(
        url, connect_args={"options": f"-c search_path={schema} -c default_transaction_read_only=on"}
    )
    yield engine, schema
    engine.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def test_postgresql(pg_engine: tuple[sa.Engine, str]) -> None:
    schema = introspect(pg_engine[0], "pg")
    assert schema.dialect == "postgresql"
    assert [t.name for t in schema.tables] == ["customers", "order", "big_customers"]
    customers = _table(schema, "customers")
    assert customers.comment == "people who buy"
    assert customers.row_estimate == 12  # pg_class.reltuples after ANALYZE
    assert _column(customers, "name").comment == "full name" and not _column(customers, "name").nullable
    assert _column(customers, "name").samples[:2] == ["Customer 1", "Customer 2"]
    order = _table(schema, "order")
    assert order.row_estimate == 7  # never analysed: counted
    assert [c.name for c in order.columns if c.primary_key] == ["id", "line"]
    assert order.foreign_keys[0].ref_table == "customers"
    assert _column(order, "state").samples == ["shipped"]
    assert _column(order, "ref").samples == [] and _column(order, "doc").samples == []
    assert _table(schema, "big_customers").comment == "view"
    text = render_table(order, dialect="postgresql")
    assert text.startswith('CREATE TABLE "order" (  -- 7 rows\n')
    assert "  PRIMARY KEY (id, line)\n" in text
    assert '  "Region" VARCHAR(20)\n' in render_table(customers, dialect="postgresql")


def test_a_view_the_catalog_cannot_read_is_left_out_and_the_rest_described(tmp_path: Path) -> None:
    """A view over a dropped table breaks the batched reflection; each object is then read alone."""
    path = tmp_path / "broken.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items VALUES (1, 'lamp');"
        "CREATE TABLE gone (id INTEGER); CREATE VIEW stale AS SELECT id FROM gone; DROP TABLE gone;"
    )
    conn.close()
    engine = _read_only_sqlite(path)
    try:
        schema = introspect(engine, "broken")
    finally:
        engine.dispose()
    assert [table.name for table in schema.tables] == ["items"]
    assert [column.name for column in _table(schema, "items").columns] == ["id", "name"]


def test_a_catalog_that_cannot_read_anything_is_an_upstream_error(tmp_path: Path) -> None:
    path = tmp_path / "only-broken.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE gone (id INTEGER); CREATE VIEW stale AS SELECT id FROM gone; DROP TABLE gone;")
    conn.close()
    engine = _read_only_sqlite(path)
    try:
        with pytest.raises(Upstream, match="cannot read the catalog entry of table 'stale'"):
            introspect(engine, "only-broken")
    finally:
        engine.dispose()
