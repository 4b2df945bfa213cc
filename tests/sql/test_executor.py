"""run_sql: rows and columns as the driver gives them, caps, parameters, errors, writes, time limits."""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from dbgpt_tools.errors import Forbidden, InvalidInput, NotFound
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.errors import QueryTimeout
from dbgpt_tools.sql.results import json_value
from tests.scripted import ScriptedChatModel
from tests.sql.conftest import add_shop


def test_run_sql_rows_columns_limit_and_truncation(runtime: Runtime, shop: Path) -> None:
    add_shop(runtime)
    result = runtime.sql.run_sql("shop", "```sql\nSELECT id, name, price, photo FROM items ORDER BY id;\n```", limit=10)
    assert result.columns == ["id", "name", "price", "photo"]
    assert result.rows[0] == (1, "item1", 1.5, b"\x01\x02")  # the driver's values in Python
    assert result.model_dump(mode="json")["rows"][0] == [1, "item1", 1.5, "0102"]  # JSON values on the wire
    assert (result.row_count, result.truncated, result.limit_applied) == (10, True, 10)
    assert result.sql == "SELECT id, name, price, photo FROM items ORDER BY id"
    assert result.elapsed_ms > 0
    exact = runtime.sql.run_sql("shop", "SELECT id FROM items", limit=25)
    assert (exact.row_count, exact.truncated) == (25, False)
    default = runtime.sql.run_sql("shop", "SELECT id FROM items")
    assert (default.row_count, default.limit_applied, default.truncated) == (25, 1000, False)
    json.dumps(result.model_dump(mode="json"))


def test_run_sql_limit_bounds(runtime: Runtime, settings: Settings, shop: Path) -> None:
    add_shop(runtime)
    for bad in (0, settings.sql_max_row_limit + 1):
        with pytest.raises(InvalidInput) as caught:
            runtime.sql.run_sql("shop", "SELECT 1", limit=bad)
        assert caught.value.field == "limit"
    assert runtime.sql.run_sql("shop", "SELECT 1", limit=settings.sql_max_row_limit).limit_applied == 100_000


def test_run_sql_binds_parameters(runtime: Runtime, shop: Path) -> None:
    created = add_shop(runtime)
    sql = "SELECT name FROM items WHERE id = :id OR name = :name"
    assert runtime.sql.run_sql(created.id, sql, params={"id": 3, "name": "item5"}).rows == [("item3",), ("item5",)]
    count = "SELECT count(*) FROM items WHERE name = :name"
    injected = runtime.sql.run_sql(str(created.id), count, params={"name": "x' OR '1'='1"})
    assert injected.rows == [(0,)]
    with pytest.raises(InvalidInput) as missing:
        runtime.sql.run_sql("shop", sql, params={"id": 3})
    assert missing.value.field == "sql" and "name" in missing.value.message


def test_run_sql_errors(runtime: Runtime, shop: Path) -> None:
    add_shop(runtime)
    with pytest.raises(Forbidden):
        runtime.sql.run_sql("shop", "DELETE FROM items")
    for sql, needle in [("SELECT * FROM nope", "no such table"), ("SELECT nope FROM items", "no such column")]:
        with pytest.raises(InvalidInput) as caught:
            runtime.sql.run_sql("shop", sql)
        assert caught.value.field == "sql" and needle in caught.value.message
    with pytest.raises(NotFound):
        runtime.sql.run_sql("nope", "SELECT 1")
    assert runtime.sql.run_sql("shop", "SELECT count(*) FROM items").rows == [(25,)]


def test_writable_datasource_writes(runtime: Runtime, shop: Path) -> None:
    add_shop(runtime, read_only=False)
    result = runtime.sql.run_sql("shop", "UPDATE items SET price = 0 WHERE id <= 3")
    assert result.columns == ["rows_affected"] and result.rows == [(3,)]
    assert runtime.sql.run_sql("shop", "SELECT count(*) FROM items WHERE price = 0").rows == [(3,)]


def test_run_sql_times_out(settings: Settings, shop: Path) -> None:
    runtime = Runtime(settings.model_copy(update={"sql_timeout": 0.5}), chat_model=ScriptedChatModel.replying())
    try:
        add_shop(runtime)
        started = time.monotonic()
        with pytest.raises(QueryTimeout) as caught:
            runtime.sql.run_sql(
                "shop",
                "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000000) "
                "SELECT count(*) FROM r",
            )
        assert time.monotonic() - started < 20 and caught.value.status == 504  # counting to 1e9 takes minutes
        assert runtime.sql.run_sql("shop", "SELECT count(*) FROM items").rows == [(25,)]
    finally:
        runtime.close()


def test_duckdb_values_are_json_friendly(runtime: Runtime, settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(settings.data_dir / "facts.duckdb"))
    conn.execute("CREATE TABLE f (amount DECIMAL(10, 2), day DATE, seen TIMESTAMP, raw BLOB)")
    conn.execute("INSERT INTO f VALUES (12.50, DATE '2024-03-01', TIMESTAMP '2024-03-01 10:30:00', 'abc'::BLOB)")
    conn.close()
    runtime.datasources.create({"db_name": "facts", "db_type": "duckdb", "db_path": "facts.duckdb"})
    result = runtime.sql.run_sql("facts", "SELECT * FROM f")
    assert result.model_dump(mode="json")["rows"] == [[12.5, "2024-03-01", "2024-03-01T10:30:00", "616263"]]
    assert json.loads(result.model_dump_json())["rows"] == [[12.5, "2024-03-01", "2024-03-01T10:30:00", "616263"]]
    with pytest.raises(Forbidden):
        runtime.sql.run_sql("facts", "INSERT INTO f VALUES (1, NULL, NULL, NULL)")


def test_json_value_conversions() -> None:
    assert json_value(Decimal("1.25")) == 1.25
    assert json_value(date(2024, 1, 2)) == "2024-01-02"
    assert json_value(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05"
    assert json_value(b"\xff" * 1000) == "<1000 bytes>"
    assert json_value([Decimal("1"), {"a": b"\x00"}]) == [1.0, {"a": "00"}]
