"""The datasource service: CRUD with a masked password, path confinement, engine caching, run_sql, PostgreSQL."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import exc, text

from dbgpt_tools.errors import Conflict, Forbidden, InvalidInput, NotFound, Upstream
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql import datasources
from dbgpt_tools.sql.datasources import (
    ConnectionStatus,
    Datasource,
    DatasourceIn,
    DatasourceService,
)
from dbgpt_tools.sql.errors import QueryTimeout
from dbgpt_tools.sql.json_values import json_value
from dbgpt_tools.store.metadata import MetadataStore

SECRET = "pw-Secret-42"


@pytest.fixture
def store(settings: Settings) -> Iterator[MetadataStore]:
    metadata = MetadataStore(settings.resolved_metadata_url)
    yield metadata
    metadata.close()


@pytest.fixture
def service(settings: Settings, store: MetadataStore) -> Iterator[DatasourceService]:
    svc = DatasourceService(settings, store)
    yield svc
    svc.close()


@pytest.fixture
def shop(settings: Settings) -> Path:
    """A SQLite file in the data dir: 25 items."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "shop.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, photo BLOB)")
    conn.executemany(
        "INSERT INTO items VALUES (?, ?, ?, ?)", [(i, f"item{i}", i * 1.5, b"\x01\x02") for i in range(1, 26)]
    )
    conn.commit()
    conn.close()
    return path


def add_shop(service: DatasourceService, **fields: object) -> Datasource:
    return service.create({"db_name": "shop", "db_type": "sqlite", "db_path": "shop.db", **fields})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- CRUD -----------------------------------------------------------------------------------------------------


def test_create_get_list_delete(service: DatasourceService, shop: Path) -> None:
    created = add_shop(service, comment="the shop")
    assert isinstance(created.id, int) and created.read_only is True and created.db_pwd == ""
    assert service.get(created.id) == created == service.get_by_name("shop")
    assert service.get(str(created.id)) == created  # path parameters arrive as strings
    assert service.list() == [created]
    assert service.delete(created.id) == created
    assert service.list() == []
    with pytest.raises(NotFound):
        service.get(created.id)
    with pytest.raises(NotFound):
        service.delete(created.id)


def test_password_is_stored_but_never_returned(service: DatasourceService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = service.create(
        {"db_name": "warehouse", "db_type": "postgresql", "db_host": "db.example", "db_user": "bob", "db_pwd": SECRET}
    )
    assert created.db_pwd == "******"
    for shown in (created, service.get(created.id), *service.list()):
        assert SECRET not in shown.model_dump_json()
    assert service.resolve("warehouse").db_pwd == SECRET
    assert SECRET not in caplog.text


def test_update_keeps_the_password_unless_a_new_one_is_sent(service: DatasourceService) -> None:
    created = service.create(
        {"db_name": "wh", "db_type": "mysql", "db_host": "h", "db_user": "bob", "db_pwd": SECRET}
    )
    for kept in ("******", "", None):
        updated = service.update({**created.model_dump(), "db_pwd": kept, "comment": f"kept {kept!r}"})
        assert updated.comment == f"kept {kept!r}" and updated.db_pwd == "******"
        assert service.resolve(created.id).db_pwd == SECRET
    service.update({**created.model_dump(), "db_pwd": "new-pw"})
    assert service.resolve("wh").db_pwd == "new-pw"


def test_conflict_not_found_and_bad_input(service: DatasourceService, shop: Path) -> None:
    first = add_shop(service)
    with pytest.raises(Conflict) as conflict:
        add_shop(service)
    assert conflict.value.status == 409 and "shop" in conflict.value.message
    other = service.create({"db_name": "other", "db_type": "sqlite", "db_path": "shop.db"})
    with pytest.raises(Conflict):
        service.update({**other.model_dump(), "db_name": "shop"})  # renaming onto an existing name
    with pytest.raises(NotFound) as missing:
        service.update({**first.model_dump(), "id": 999})
    assert missing.value.status == 404
    with pytest.raises(NotFound):
        service.get_by_name("nope")
    with pytest.raises(InvalidInput) as no_id:
        service.update({"db_name": "shop", "db_type": "sqlite", "db_path": "shop.db"})
    assert no_id.value.field == "id"
    with pytest.raises(InvalidInput) as not_int:
        service.get("abc")
    assert not_int.value.field == "id"


@pytest.mark.parametrize(
    ("payload", "field", "needle"),
    [
        ({"db_type": "sqlite", "db_path": "shop.db"}, "db_name", "db_name"),
        ({"db_name": "x", "db_path": "shop.db"}, "db_type", "db_type"),
        ({"db_name": None, "db_type": "sqlite"}, "db_name", "db_name"),
        ({"db_name": "x", "db_type": "oracle"}, "db_type", "sqlite, duckdb, postgresql, mysql"),
        ({"db_name": "x", "db_type": "postgresql"}, "db_host", "db_host"),
        ({"db_name": "x", "db_type": "sqlite"}, "db_path", "db_path"),
        ({"db_name": "x", "db_type": "sqlite", "db_path": "missing.db"}, "db_path", "does not exist"),
        ({"db_name": "x", "db_type": "mysql", "db_host": "h", "db_port": "many"}, "db_port", "db_port"),
    ],
)
def test_invalid_input_names_the_field(
    service: DatasourceService, shop: Path, payload: dict[str, object], field: str, needle: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.create(payload)
    assert caught.value.status == 400 and caught.value.field == field and needle in caught.value.message


def test_nulls_mean_absent_and_type_is_case_insensitive(service: DatasourceService, shop: Path) -> None:
    created = service.create(
        {"id": None, "db_name": "shop", "db_type": "SQLite", "db_path": "shop.db", "db_host": None, "db_port": None,
         "db_user": None, "db_pwd": None, "comment": None, "read_only": None}
    )  # fmt: skip
    assert (created.db_type, created.db_host, created.db_port, created.read_only) == ("sqlite", "", 0, True)


# --- Path confinement -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("db_path", ["../../etc/passwd", "/etc/passwd", "~/../../etc/hosts", "/tmp/../etc/x.db"])
def test_db_path_outside_the_roots_is_refused(service: DatasourceService, settings: Settings, db_path: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.create({"db_name": "x", "db_type": "sqlite", "db_path": db_path, "read_only": False})
    assert caught.value.field == "db_path" and db_path in caught.value.message
    assert str(settings.allowed_db_roots[0]) in caught.value.message


def test_symlink_escaping_the_root_is_refused(service: DatasourceService, settings: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "outside.db"
    sqlite3.connect(outside).close()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "link.db").symlink_to(outside)
    with pytest.raises(InvalidInput) as caught:
        service.create({"db_name": "x", "db_type": "sqlite", "db_path": "link.db"})
    assert caught.value.field == "db_path"


def test_configured_roots_are_allowed(store: MetadataStore, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    sqlite3.connect(extra / "e.db").close()
    settings = Settings(data_dir=tmp_path / "data", db_roots=str(extra))  # type: ignore[arg-type]
    service = DatasourceService(settings, store)
    try:
        assert service.create({"db_name": "e", "db_type": "sqlite", "db_path": str(extra / "e.db")}).id
        assert service.run_sql("e", "SELECT 1 AS one").rows == [(1,)]
    finally:
        service.close()


def test_a_file_removed_after_registration_is_reported(service: DatasourceService, shop: Path) -> None:
    add_shop(service)
    shop.unlink()
    status = service.test_connection("shop")
    assert not status.ok and "does not exist" in (status.error or "")
    with pytest.raises(InvalidInput):
        service.run_sql("shop", "SELECT 1")
    assert not shop.exists()  # a read-only datasource never creates its file


# --- run_sql --------------------------------------------------------------------------------------------------


def test_run_sql_rows_columns_limit_and_truncation(service: DatasourceService, shop: Path) -> None:
    add_shop(service)
    result = service.run_sql("shop", "```sql\nSELECT id, name, price, photo FROM items ORDER BY id;\n```", limit=10)
    assert result.columns == ["id", "name", "price", "photo"]
    assert result.rows[0] == (1, "item1", 1.5, b"\x01\x02")  # the driver's values in Python
    assert result.model_dump(mode="json")["rows"][0] == [1, "item1", 1.5, "0102"]  # JSON values on the wire
    assert (result.row_count, result.truncated, result.limit_applied) == (10, True, 10)
    assert result.sql == "SELECT id, name, price, photo FROM items ORDER BY id"
    assert result.elapsed_ms > 0
    exact = service.run_sql("shop", "SELECT id FROM items", limit=25)
    assert (exact.row_count, exact.truncated) == (25, False)
    default = service.run_sql("shop", "SELECT id FROM items")
    assert (default.row_count, default.limit_applied, default.truncated) == (25, 1000, False)
    json.dumps(result.model_dump(mode="json"))


def test_run_sql_limit_bounds(service: DatasourceService, settings: Settings, shop: Path) -> None:
    add_shop(service)
    for bad in (0, settings.sql_max_row_limit + 1):
        with pytest.raises(InvalidInput) as caught:
            service.run_sql("shop", "SELECT 1", limit=bad)
        assert caught.value.field == "limit"
    assert service.run_sql("shop", "SELECT 1", limit=settings.sql_max_row_limit).limit_applied == 100_000


def test_run_sql_binds_parameters(service: DatasourceService, shop: Path) -> None:
    created = add_shop(service)
    sql = "SELECT name FROM items WHERE id = :id OR name = :name"
    assert service.run_sql(created.id, sql, params={"id": 3, "name": "item5"}).rows == [("item3",), ("item5",)]
    count = "SELECT count(*) FROM items WHERE name = :name"
    injected = service.run_sql(str(created.id), count, params={"name": "x' OR '1'='1"})
    assert injected.rows == [(0,)]
    with pytest.raises(InvalidInput) as missing:
        service.run_sql("shop", sql, params={"id": 3})
    assert missing.value.field == "sql" and "name" in missing.value.message


def test_run_sql_errors(service: DatasourceService, shop: Path) -> None:
    add_shop(service)
    with pytest.raises(Forbidden):
        service.run_sql("shop", "DELETE FROM items")
    for sql, needle in [("SELECT * FROM nope", "no such table"), ("SELECT nope FROM items", "no such column")]:
        with pytest.raises(InvalidInput) as caught:
            service.run_sql("shop", sql)
        assert caught.value.field == "sql" and needle in caught.value.message
    with pytest.raises(NotFound):
        service.run_sql("nope", "SELECT 1")
    assert service.run_sql("shop", "SELECT count(*) FROM items").rows == [(25,)]


def test_writable_datasource_writes(service: DatasourceService, shop: Path) -> None:
    add_shop(service, read_only=False)
    result = service.run_sql("shop", "UPDATE items SET price = 0 WHERE id <= 3")
    assert result.columns == ["rows_affected"] and result.rows == [(3,)]
    assert service.run_sql("shop", "SELECT count(*) FROM items WHERE price = 0").rows == [(3,)]


def test_run_sql_times_out(store: MetadataStore, shop: Path) -> None:
    settings = Settings(data_dir=shop.parent, sql_timeout=0.5)
    service = DatasourceService(settings, store)
    try:
        add_shop(service)
        started = time.monotonic()
        with pytest.raises(QueryTimeout) as caught:
            service.run_sql(
                "shop",
                "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000000) "
                "SELECT count(*) FROM r",
            )
        assert time.monotonic() - started < 3 and caught.value.status == 504
        assert service.run_sql("shop", "SELECT count(*) FROM items").rows == [(25,)]
    finally:
        service.close()


def test_duckdb_values_are_json_friendly(service: DatasourceService, settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(settings.data_dir / "facts.duckdb"))
    conn.execute("CREATE TABLE f (amount DECIMAL(10, 2), day DATE, seen TIMESTAMP, raw BLOB)")
    conn.execute("INSERT INTO f VALUES (12.50, DATE '2024-03-01', TIMESTAMP '2024-03-01 10:30:00', 'abc'::BLOB)")
    conn.close()
    service.create({"db_name": "facts", "db_type": "duckdb", "db_path": "facts.duckdb"})
    result = service.run_sql("facts", "SELECT * FROM f")
    assert result.model_dump(mode="json")["rows"] == [[12.5, "2024-03-01", "2024-03-01T10:30:00", "616263"]]
    assert json.loads(result.model_dump_json())["rows"] == [[12.5, "2024-03-01", "2024-03-01T10:30:00", "616263"]]
    with pytest.raises(Forbidden):
        service.run_sql("facts", "INSERT INTO f VALUES (1, NULL, NULL, NULL)")


def test_json_value_conversions() -> None:
    assert json_value(Decimal("1.25")) == 1.25
    assert json_value(date(2024, 1, 2)) == "2024-01-02"
    assert json_value(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05"
    assert json_value(b"\xff" * 1000) == "<1000 bytes>"
    assert json_value([Decimal("1"), {"a": b"\x00"}]) == [1.0, {"a": "00"}]


# --- Engines: cache, other processes, connection tests ---------------------------------------------------------


def test_engine_is_cached_and_rebuilt_after_an_update_elsewhere(
    service: DatasourceService, settings: Settings, store: MetadataStore, shop: Path
) -> None:
    created = add_shop(service)
    engine = service.engine("shop")
    assert service.engine(created.id) is engine
    other_process = DatasourceService(settings, MetadataStore(settings.resolved_metadata_url))
    try:
        other_process.update({**created.model_dump(), "read_only": False})
    finally:
        other_process.close()
    rebuilt = service.engine("shop")
    assert rebuilt is not engine
    with rebuilt.begin() as conn:  # the new engine follows the new configuration: writable
        conn.execute(text("DELETE FROM items WHERE id = 25"))
    old_pool = rebuilt.pool
    service.delete(created.id)
    assert rebuilt.pool is not old_pool  # disposed


def test_engine_of_a_read_only_datasource_refuses_writes(service: DatasourceService, shop: Path) -> None:
    add_shop(service)
    with pytest.raises(exc.DBAPIError):
        with service.engine("shop").connect() as conn:
            conn.execute(text("INSERT INTO items (id, name) VALUES (99, 'x')"))
            conn.commit()
    assert service.run_sql("shop", "SELECT count(*) FROM items").rows == [(25,)]


def test_test_connection_sqlite(service: DatasourceService, shop: Path) -> None:
    add_shop(service)
    status = service.test_connection("shop")
    assert isinstance(status, ConnectionStatus)
    assert (status.ok, status.version, status.error, status.db_type) == (True, sqlite3.sqlite_version, None, "sqlite")
    unsaved = service.test_connection(DatasourceIn(db_name="draft", db_type="sqlite", db_path="shop.db"))
    assert unsaved.ok and service.list()[0].db_name == "shop" and len(service.list()) == 1


def test_mysql_closed_port_is_not_ok_and_fast(service: DatasourceService) -> None:
    service.create(
        {"db_name": "shopdb", "db_type": "mysql", "db_host": "127.0.0.1", "db_port": free_port(),
         "db_user": "bob", "db_pwd": SECRET}
    )  # fmt: skip
    started = time.monotonic()
    status = service.test_connection("shopdb")
    assert not status.ok and status.error and SECRET not in status.model_dump_json()
    assert time.monotonic() - started < 3
    with pytest.raises(Upstream) as caught:
        service.run_sql("shopdb", "SELECT 1")
    assert SECRET not in caught.value.message


def test_testing_an_unsaved_edit_uses_the_stored_password(
    service: DatasourceService, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = service.create({"db_name": "wh", "db_type": "mysql", "db_host": "127.0.0.1", "db_port": free_port(),
                              "db_pwd": SECRET})  # fmt: skip
    passwords: list[str] = []
    real = datasources.create_datasource_engine
    monkeypatch.setattr(datasources, "create_datasource_engine", lambda c: passwords.append(c.password) or real(c))
    edited = DatasourceIn(**{**created.model_dump(), "comment": "edited"})
    assert edited.db_pwd == "******"
    assert not service.test_connection(edited).ok
    assert not service.test_connection(DatasourceIn(**{**created.model_dump(), "db_pwd": "typed"})).ok
    assert passwords == [SECRET, "typed"]


# --- PostgreSQL -----------------------------------------------------------------------------------------------

PG_TABLE = "dbgpt_ds_test"


@pytest.fixture
def pg_source(service: DatasourceService, pg_url: dict[str, object]) -> Iterator[Datasource]:
    fields = {
        "db_name": pg_url["database"], "db_type": "postgresql", "db_host": pg_url["host"],
        "db_port": pg_url["port"], "db_user": pg_url["user"], "db_pwd": pg_url["password"],
    }  # fmt: skip
    writer = service.create({**fields, "read_only": False})
    service.run_sql(writer.id, f"DROP TABLE IF EXISTS {PG_TABLE}")
    service.run_sql(writer.id, f"CREATE TABLE {PG_TABLE} (id int, amount numeric(8, 2), day date)")
    service.run_sql(writer.id, f"INSERT INTO {PG_TABLE} VALUES (1, 9.99, '2024-05-01'), (2, 5, '2024-05-02')")
    service.delete(writer.id)
    reader = service.create(fields)
    yield reader
    service.update({**reader.model_dump(), "read_only": False})
    service.run_sql(reader.id, f"DROP TABLE {PG_TABLE}")


def test_postgres_datasource(service: DatasourceService, pg_source: Datasource) -> None:
    status = service.test_connection(pg_source.db_name)
    assert status.ok and status.version and status.version.startswith("PostgreSQL")
    result = service.run_sql(pg_source.id, f"SELECT * FROM {PG_TABLE} WHERE id >= :low ORDER BY id", params={"low": 1})
    assert result.columns == ["id", "amount", "day"]
    assert result.rows == [(1, Decimal("9.99"), date(2024, 5, 1)), (2, Decimal("5.00"), date(2024, 5, 2))]
    assert result.model_dump(mode="json")["rows"] == [[1, 9.99, "2024-05-01"], [2, 5.0, "2024-05-02"]]
    with pytest.raises(Forbidden):
        service.run_sql(pg_source.id, f"DELETE FROM {PG_TABLE}")
    with pytest.raises(exc.DBAPIError, match="read-only transaction"):
        with service.engine(pg_source.id).connect() as conn:
            conn.execute(text(f"DELETE FROM {PG_TABLE}"))
    assert service.run_sql(pg_source.id, f"SELECT count(*) FROM {PG_TABLE}").rows == [(2,)]


def test_postgres_timeout(store: MetadataStore, settings: Settings, pg_url: dict[str, object]) -> None:
    service = DatasourceService(settings.model_copy(update={"sql_timeout": 0.5}), store)
    try:
        service.create(
            {"db_name": pg_url["database"], "db_type": "postgresql", "db_host": pg_url["host"],
             "db_port": pg_url["port"], "db_user": pg_url["user"], "db_pwd": pg_url["password"]}
        )  # fmt: skip
        started = time.monotonic()
        with pytest.raises(QueryTimeout):
            service.run_sql(str(pg_url["database"]), "SELECT pg_sleep(10)")
        assert time.monotonic() - started < 3
    finally:
        service.close()


def test_postgres_bad_credentials_do_not_leak(service: DatasourceService, pg_url: dict[str, object]) -> None:
    # The test cluster checks passwords on TCP logins (scram-sha-256), as a real server does.
    service.create(
        {"db_name": pg_url["database"], "db_type": "postgresql", "db_host": pg_url["host"],
         "db_port": pg_url["port"], "db_user": pg_url["user"], "db_pwd": SECRET}
    )  # fmt: skip
    status = service.test_connection(str(pg_url["database"]))
    assert not status.ok and "password authentication failed" in (status.error or "")
    assert SECRET not in status.model_dump_json()
    with pytest.raises(Upstream) as caught:
        service.run_sql(str(pg_url["database"]), "SELECT 1")
    assert SECRET not in caught.value.message


def test_json_rows_converts_only_what_json_cannot_carry() -> None:
    from dbgpt_tools.sql.json_values import json_rows

    plain = [(1, "a", 1.5, None), (2, "b", 2.5, True)]
    assert json_rows(plain) == plain
    mixed = [(1, date(2024, 1, 2), Decimal("1.50"), None), (2, None, Decimal("2"), b"\x01")]
    assert json_rows(mixed) == [(1, "2024-01-02", 1.5, None), (2, None, 2.0, "01")]
    assert json_rows([]) == []
