"""PostgreSQL datasources against the test server: typed rows, read-only sessions, time limits, credentials."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import exc, text

from dbgpt_tools.errors import Forbidden, Upstream
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.datasource_models import Datasource
from dbgpt_tools.sql.errors import QueryTimeout
from tests.scripted import ScriptedChatModel
from tests.sql.conftest import SECRET, engine_of

PG_TABLE = "dbgpt_ds_test"


@pytest.fixture
def pg_source(runtime: Runtime, pg_url: dict[str, object]) -> Iterator[Datasource]:
    fields = {
        "db_name": pg_url["database"], "db_type": "postgresql", "db_host": pg_url["host"],
        "db_port": pg_url["port"], "db_user": pg_url["user"], "db_pwd": pg_url["password"],
    }  # fmt: skip
    writer = runtime.datasources.create({**fields, "read_only": False})
    runtime.sql.run_sql(writer.id, f"DROP TABLE IF EXISTS {PG_TABLE}")
    runtime.sql.run_sql(writer.id, f"CREATE TABLE {PG_TABLE} (id int, amount numeric(8, 2), day date)")
    runtime.sql.run_sql(writer.id, f"INSERT INTO {PG_TABLE} VALUES (1, 9.99, '2024-05-01'), (2, 5, '2024-05-02')")
    runtime.datasources.delete(writer.id)
    reader = runtime.datasources.create(fields)
    yield reader
    runtime.datasources.update({**reader.model_dump(), "read_only": False})
    runtime.sql.run_sql(reader.id, f"DROP TABLE {PG_TABLE}")


def test_postgres_datasource(runtime: Runtime, pg_source: Datasource) -> None:
    status = runtime.connections.test(pg_source.db_name)
    assert status.ok and status.version and status.version.startswith("PostgreSQL")
    result = runtime.sql.run_sql(
        pg_source.id, f"SELECT * FROM {PG_TABLE} WHERE id >= :low ORDER BY id", params={"low": 1}
    )
    assert result.columns == ["id", "amount", "day"]
    assert result.rows == [(1, Decimal("9.99"), date(2024, 5, 1)), (2, Decimal("5.00"), date(2024, 5, 2))]
    assert result.model_dump(mode="json")["rows"] == [[1, 9.99, "2024-05-01"], [2, 5.0, "2024-05-02"]]
    with pytest.raises(Forbidden):
        runtime.sql.run_sql(pg_source.id, f"DELETE FROM {PG_TABLE}")
    with (
        pytest.raises(exc.DBAPIError, match="read-only transaction"),
        engine_of(runtime, pg_source.id).connect() as conn,
    ):
        conn.execute(text(f"DELETE FROM {PG_TABLE}"))
    assert runtime.sql.run_sql(pg_source.id, f"SELECT count(*) FROM {PG_TABLE}").rows == [(2,)]


def test_postgres_timeout(settings: Settings, pg_url: dict[str, object]) -> None:
    runtime = Runtime(settings.model_copy(update={"sql_timeout": 0.5}), chat_model=ScriptedChatModel.replying())
    try:
        runtime.datasources.create(
            {"db_name": pg_url["database"], "db_type": "postgresql", "db_host": pg_url["host"],
             "db_port": pg_url["port"], "db_user": pg_url["user"], "db_pwd": pg_url["password"]}
        )  # fmt: skip
        started = time.monotonic()
        with pytest.raises(QueryTimeout):
            runtime.sql.run_sql(str(pg_url["database"]), "SELECT pg_sleep(60)")
        assert time.monotonic() - started < 20
    finally:
        runtime.close()


def test_postgres_bad_credentials_do_not_leak(runtime: Runtime, pg_url: dict[str, object]) -> None:
    # The test cluster checks passwords on TCP logins (scram-sha-256), as a real server does.
    runtime.datasources.create(
        {"db_name": pg_url["database"], "db_type": "postgresql", "db_host": pg_url["host"],
         "db_port": pg_url["port"], "db_user": pg_url["user"], "db_pwd": SECRET}
    )  # fmt: skip
    status = runtime.connections.test(str(pg_url["database"]))
    assert (
        not status.ok
        and status.error
        == f"the postgresql server at {pg_url['host']}:{pg_url['port']} refused the login (db_user, db_pwd or db_name)"
    )
    assert SECRET not in status.model_dump_json()
    with pytest.raises(Upstream) as caught:
        runtime.sql.run_sql(str(pg_url["database"]), "SELECT 1")
    assert SECRET not in caught.value.message


def test_json_rows_converts_only_what_json_cannot_carry() -> None:
    from dbgpt_tools.sql.results import json_rows

    plain = [(1, "a", 1.5, None), (2, "b", 2.5, True)]
    assert json_rows(plain) == plain
    mixed = [(1, date(2024, 1, 2), Decimal("1.50"), None), (2, None, Decimal("2"), b"\x01")]
    assert json_rows(mixed) == [(1, "2024-01-02", 1.5, None), (2, None, 2.0, "01")]
    assert json_rows([]) == []


def test_postgres_reads_a_huge_result_only_as_far_as_needed(runtime: Runtime, pg_source: Datasource) -> None:
    # 50 million 1 kB rows (a set-returning function in the select list streams; in FROM it would be materialised
    # by the server first): buffered whole, the client would need 50 GB; streamed, it reads the first batches.
    sql = "SELECT g, repeat('x', 1000) AS wide FROM (SELECT generate_series(1, 50000000) AS g) AS s"
    started = time.monotonic()
    capped = runtime.sql.run_sql(pg_source.id, sql, limit=10)
    assert [row[0] for row in capped.rows] == list(range(1, 11)) and capped.truncated_reason == "rows"
    budget = runtime.settings.sql_max_result_bytes
    cut = runtime.sql.run_sql(pg_source.id, sql, limit=runtime.settings.sql_max_row_limit)
    assert cut.truncated_reason == "bytes" and budget - 2000 < cut.row_count * 1008 <= budget
    assert time.monotonic() - started < 10  # the server stops at once; running it whole takes minutes
    assert runtime.sql.run_sql(pg_source.id, f"SELECT count(*) FROM {PG_TABLE}").rows == [(2,)]  # still usable
