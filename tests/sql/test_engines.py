"""The engines refuse writes and long statements by themselves, whatever SQL reaches them (no parser here)."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import Engine, exc, text

from dbgpt_tools.errors import Forbidden, InvalidInput, Upstream
from dbgpt_tools.sql.engine_config import EngineConfig, build_url
from dbgpt_tools.sql.engines import create_datasource_engine
from dbgpt_tools.sql.errors import QueryTimeout, translate_error

COUNT_TO_A_BILLION = (
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000000) SELECT count(*) FROM r"
)


def refusal(engine: Engine, config: EngineConfig, sql: str) -> Exception:
    """Execute `sql` directly on a connection and return the translated refusal (fail if it ran)."""
    with pytest.raises(exc.DBAPIError) as caught, engine.connect() as conn:
        result = conn.execute(text(sql))
        if result.returns_rows:
            result.fetchall()
        conn.commit()
    return translate_error(caught.value, config)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- SQLite -------------------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.executescript("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items VALUES (1, 'a');")
    conn.close()
    return path


def sqlite_state(path: Path) -> tuple[list[str], int]:
    conn = sqlite3.connect(path)
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master ORDER BY name")]
        return tables, conn.execute("SELECT count(*) FROM items").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def sqlite_ro(sqlite_file: Path) -> Iterator[tuple[Engine, EngineConfig]]:
    config = EngineConfig(db_type="sqlite", read_only=True, timeout=0.5, path=sqlite_file)
    engine = create_datasource_engine(config)
    yield engine, config
    engine.dispose()


def test_sqlite_read_only_engine_reads(sqlite_ro: tuple[Engine, EngineConfig]) -> None:
    engine, _ = sqlite_ro
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM items")).all() == [("a",)]
        assert conn.execute(text("PRAGMA table_info(items)")).all()[0][1] == "id"


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO items VALUES (2, 'b')",
        "UPDATE items SET name = 'z'",
        "DELETE FROM items",
        "CREATE TABLE evil (a)",
        "CREATE TEMP TABLE evil (a)",
        "DROP TABLE items",
        "PRAGMA writable_schema=1",
        "PRAGMA query_only=OFF",
        "SELECT load_extension('/tmp/x')",
        "VACUUM INTO '{tmp}/copy.db'",
        "ATTACH DATABASE '{tmp}/attached.db' AS other",
    ],
)
def test_sqlite_engine_refuses_writes(sqlite_ro: tuple[Engine, EngineConfig], sqlite_file: Path, sql: str) -> None:
    engine, config = sqlite_ro
    before = sqlite_state(sqlite_file)
    error = refusal(engine, config, sql.format(tmp=sqlite_file.parent))
    assert isinstance(error, Forbidden)
    assert sqlite_state(sqlite_file) == before
    assert not (sqlite_file.parent / "attached.db").exists()
    assert not (sqlite_file.parent / "copy.db").exists()


def test_sqlite_writable_engine_writes_but_never_attaches(sqlite_file: Path) -> None:
    config = EngineConfig(db_type="sqlite", read_only=False, timeout=5, path=sqlite_file)
    engine = create_datasource_engine(config)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO items VALUES (2, 'b')"))
        assert sqlite_state(sqlite_file)[1] == 2
        assert isinstance(refusal(engine, config, f"ATTACH '{sqlite_file.parent}/x.db' AS x"), Forbidden)
        assert not (sqlite_file.parent / "x.db").exists()
    finally:
        engine.dispose()


def test_sqlite_timeout_cancels_and_the_connection_recovers(sqlite_ro: tuple[Engine, EngineConfig]) -> None:
    engine, config = sqlite_ro
    started = time.monotonic()
    error = refusal(engine, config, COUNT_TO_A_BILLION)
    assert isinstance(error, QueryTimeout) and error.status == 504
    assert time.monotonic() - started < 20  # counting to a billion takes minutes
    time.sleep(config.timeout + 0.1)  # an expired deadline must not hit the next statement
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 1


def test_sqlite_syntax_errors_are_invalid_input(sqlite_ro: tuple[Engine, EngineConfig]) -> None:
    engine, config = sqlite_ro
    for sql, needle in [("SELEC 1", "syntax error"), ("SELECT * FROM nope", "no such table")]:
        error = refusal(engine, config, sql)
        assert isinstance(error, InvalidInput) and error.field == "sql" and needle in error.message


# --- DuckDB -------------------------------------------------------------------------------------------------


@pytest.fixture
def duck_file(tmp_path: Path) -> Path:
    path = tmp_path / "shop.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE items (id INTEGER, name VARCHAR)")
    conn.execute("INSERT INTO items VALUES (1, 'a')")
    conn.close()
    (tmp_path / "secret.csv").write_text("a\n1\n")
    return path


def duck_state(path: Path) -> tuple[list[str], int]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        tables = [row[0] for row in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        (count,) = conn.execute("SELECT count(*) FROM items").fetchall()[0]
        return sorted(tables), count
    finally:
        conn.close()


@pytest.fixture
def duck_ro(duck_file: Path) -> Iterator[tuple[Engine, EngineConfig]]:
    config = EngineConfig(db_type="duckdb", read_only=True, timeout=0.5, path=duck_file)
    engine = create_datasource_engine(config)
    yield engine, config
    engine.dispose()


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO items VALUES (2, 'b')",
        "CREATE TABLE evil (a INTEGER)",
        "DROP TABLE items",
        "COPY items TO '{tmp}/out.csv'",
        "EXPORT DATABASE '{tmp}/export'",
        "SELECT * FROM read_csv('{tmp}/secret.csv')",
        "SELECT * FROM '{tmp}/secret.csv'",
        "ATTACH '{tmp}/attached.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
    ],
)
def test_duckdb_engine_refuses_writes_and_files(
    duck_ro: tuple[Engine, EngineConfig], duck_file: Path, sql: str
) -> None:
    engine, config = duck_ro
    error = refusal(engine, config, sql.format(tmp=duck_file.parent))
    assert isinstance(error, Forbidden), error
    engine.dispose()  # release the file so the check below can open it
    assert duck_state(duck_file) == (["items"], 1)
    assert {p.name for p in duck_file.parent.iterdir()} == {"shop.duckdb", "secret.csv"}


def test_duckdb_configuration_is_locked(duck_ro: tuple[Engine, EngineConfig], duck_file: Path) -> None:
    engine, config = duck_ro
    with pytest.raises(exc.DBAPIError, match="Cannot change configuration"), engine.connect() as conn:
        conn.execute(text("SET enable_external_access = true"))
    secret = duck_file.parent / "secret.csv"
    assert isinstance(refusal(engine, config, f"SELECT * FROM read_csv('{secret}')"), Forbidden)


def test_duckdb_timeout_cancels(duck_ro: tuple[Engine, EngineConfig]) -> None:
    engine, config = duck_ro
    started = time.monotonic()
    assert isinstance(refusal(engine, config, COUNT_TO_A_BILLION), QueryTimeout)
    assert time.monotonic() - started < 20  # counting to a billion takes minutes
    time.sleep(config.timeout + 0.1)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 1


# --- PostgreSQL ---------------------------------------------------------------------------------------------

PG_TABLE = "dbgpt_engine_test"


@pytest.fixture
def pg(pg_url: dict[str, Any]) -> Iterator[tuple[Engine, EngineConfig]]:
    parts = {key: pg_url[key] for key in ("host", "port", "user", "password", "database")}
    writer_config = EngineConfig(db_type="postgresql", read_only=False, timeout=5, **parts)
    writer = create_datasource_engine(writer_config)
    with writer.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {PG_TABLE}"))
        conn.execute(text(f"CREATE TABLE {PG_TABLE} (id int, name text)"))
        conn.execute(text(f"INSERT INTO {PG_TABLE} VALUES (1, 'a')"))
    config = EngineConfig(db_type="postgresql", read_only=True, timeout=0.5, **parts)
    engine = create_datasource_engine(config)
    yield engine, config
    engine.dispose()
    with writer.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {PG_TABLE}")).scalar() == 1  # nothing got written
        assert conn.execute(text("SELECT to_regclass('dbgpt_evil')")).scalar() is None
    with writer.begin() as conn:
        conn.execute(text(f"DROP TABLE {PG_TABLE}"))
    writer.dispose()


@pytest.mark.parametrize(
    "sql",
    [
        f"INSERT INTO {PG_TABLE} VALUES (2, 'b')",
        "CREATE TABLE dbgpt_evil (a int)",
        f"SET TRANSACTION READ WRITE; INSERT INTO {PG_TABLE} VALUES (3, 'c')",
        f"COMMIT; SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; INSERT INTO {PG_TABLE} VALUES (4, 'd')",
    ],
)
def test_postgres_engine_refuses_writes(pg: tuple[Engine, EngineConfig], sql: str) -> None:
    engine, config = pg
    assert isinstance(refusal(engine, config, sql), Forbidden)
    with engine.connect() as conn:
        assert conn.execute(text("SHOW transaction_read_only")).scalar() == "on"
        assert conn.execute(text(f"SELECT name FROM {PG_TABLE} WHERE name LIKE '%a%'")).all() == [("a",)]


def test_postgres_statement_timeout(pg: tuple[Engine, EngineConfig]) -> None:
    engine, config = pg
    started = time.monotonic()
    assert isinstance(refusal(engine, config, "SELECT pg_sleep(60)"), QueryTimeout)
    assert time.monotonic() - started < 20


def test_postgres_unreachable_is_upstream_without_password() -> None:
    config = EngineConfig(
        db_type="postgresql", read_only=True, timeout=1, host="127.0.0.1", port=free_port(),
        user="u", password="pw-Secret-42", database="d",
    )  # fmt: skip
    engine = create_datasource_engine(config)
    started = time.monotonic()
    with pytest.raises(exc.OperationalError) as caught:
        engine.connect()
    error = translate_error(caught.value, config, connecting=True)
    assert isinstance(error, Upstream) and "pw-Secret-42" not in error.message
    assert time.monotonic() - started < 10  # refused at once: no waiting out a connect timeout


# --- URLs, MySQL ------------------------------------------------------------------------------------------------


def test_urls_mask_the_password() -> None:
    config = EngineConfig(
        db_type="mysql", read_only=True, timeout=1, host="db.example", user="bob", password="pw-Secret-42",
        database="shop",
    )  # fmt: skip
    url = build_url(config)
    assert (url.drivername, url.host, url.port, url.username, url.database) == (
        "mysql+pymysql", "db.example", 3306, "bob", "shop",
    )  # fmt: skip
    assert url.password == "pw-Secret-42"
    assert "pw-Secret-42" not in repr(url) and "pw-Secret-42" not in str(url)
    assert "pw-Secret-42" not in repr(config)
    pg_url = build_url(EngineConfig(db_type="postgresql", read_only=True, timeout=1, host="h", password="p@ss:w/rd"))
    assert pg_url.drivername == "postgresql+psycopg" and pg_url.port == 5432 and pg_url.password == "p@ss:w/rd"
    sqlite_url = build_url(EngineConfig(db_type="sqlite", read_only=True, timeout=1, path=Path("/d/x.db")))
    assert (sqlite_url.drivername, sqlite_url.database) == ("sqlite", "/d/x.db")


def test_fingerprint_follows_every_connection_field() -> None:
    base = EngineConfig(db_type="mysql", read_only=True, timeout=1, host="h", user="u", password="a")
    assert base.fingerprint() == EngineConfig(**{**base.__dict__}).fingerprint()
    for change in ({"password": "b"}, {"read_only": False}, {"host": "h2"}, {"timeout": 2.0}, {"port": 1}):
        assert EngineConfig(**{**base.__dict__, **change}).fingerprint() != base.fingerprint()
    assert len(base.fingerprint()) == 64


def test_mysql_closed_port_fails_fast_as_upstream() -> None:
    config = EngineConfig(
        db_type="mysql", read_only=True, timeout=1, host="127.0.0.1", port=free_port(), user="u",
        password="pw-Secret-42", database="d",
    )  # fmt: skip
    engine = create_datasource_engine(config)
    started = time.monotonic()
    with pytest.raises(exc.OperationalError) as caught:
        engine.connect()
    error = translate_error(caught.value, config, connecting=True)
    assert isinstance(error, Upstream) and "pw-Secret-42" not in error.message
    assert time.monotonic() - started < 10  # refused at once: no waiting out a connect timeout
