"""`mysql` datasources against a real server (MariaDB from Debian, started by scripts/ci_services.sh):
the engine's own read-only rule and time limit, the service, introspection, and chat_data on its dialect."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, QueuePool, text

from dbgpt_tools.chat.models import ChatMode, ChatRequest, QueryArtifact
from dbgpt_tools.errors import DbgptError, Forbidden, Upstream
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.engine_config import EngineConfig
from dbgpt_tools.sql.engines import create_datasource_engine
from dbgpt_tools.sql.errors import QueryTimeout
from dbgpt_tools.sql.introspection import introspect
from dbgpt_tools.sql.schema_text import render_table
from tests.conftest import MYSQL_URL
from tests.scripted import ScriptedChatModel
from tests.sql.test_engines import refusal

SECRET = "pw-Secret-42"
TABLES = ("order", "customers")  # `order` is a reserved word: quoting is part of the test


def _state(writer: Engine) -> tuple[list[str], int]:
    """The tables of the test database and the rows of `order`: what a write would change."""
    with writer.connect() as conn:
        tables = sorted(conn.execute(text("SHOW TABLES")).scalars())
        return tables, conn.execute(text("SELECT COUNT(*) FROM `order`")).scalar_one()


@pytest.fixture(scope="module")
def shop(mysql_url: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Two tables and a view in the test database; afterwards, asserts nothing was written or created."""
    writer = sa.create_engine(MYSQL_URL)
    with writer.begin() as conn:
        conn.execute(text("DROP VIEW IF EXISTS big_orders"))
        for table in TABLES:
            conn.execute(text(f"DROP TABLE IF EXISTS `{table}`"))
        conn.execute(
            text(
                "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL COMMENT 'full name') "
                "COMMENT 'people who buy'"
            )
        )
        conn.execute(
            text(
                "CREATE TABLE `order` (id INT PRIMARY KEY, customer_id INT, status ENUM('new', 'shipped'), "
                "amount DECIMAL(10, 2), placed DATE, FOREIGN KEY (customer_id) REFERENCES customers(id))"
            )
        )
        conn.execute(text("INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace')"))
        conn.execute(
            text(
                "INSERT INTO `order` VALUES (1, 1, 'new', 10.50, '2023-05-01'), "
                "(2, 1, 'shipped', 20.00, '2024-01-02'), (3, 2, 'shipped', 7.25, '2024-03-04')"
            )
        )
        conn.execute(text("CREATE VIEW big_orders AS SELECT * FROM `order` WHERE amount > 10"))
        conn.execute(text("ANALYZE TABLE customers, `order`"))
    before = _state(writer)
    yield mysql_url
    assert _state(writer) == before
    writer.dispose()


@pytest.fixture
def ro(shop: dict[str, Any]) -> Iterator[tuple[Engine, EngineConfig]]:
    config = EngineConfig(
        db_type="mysql",
        read_only=True,
        timeout=1,
        host=str(shop["host"]),
        port=int(shop["port"]),
        user=str(shop["user"]),
        password=str(shop["password"]),
        database=str(shop["database"]),
    )
    engine = create_datasource_engine(config)
    yield engine, config
    engine.dispose()


# --- the engine, without the SQL checker in front -------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO `order` VALUES (9, 1, 'new', 1, '2024-01-01')",
        "UPDATE `order` SET amount = 0",
        "CREATE TABLE dbgpt_evil (a INT)",
        "DROP VIEW big_orders",
    ],
)
def test_engine_refuses_writes(ro: tuple[Engine, EngineConfig], sql: str) -> None:
    assert isinstance(refusal(*ro, sql), Forbidden)


def test_engine_refuses_stacked_statements(ro: tuple[Engine, EngineConfig]) -> None:
    error = refusal(*ro, "SELECT 1; INSERT INTO `order` VALUES (9, 1, 'new', 1, '2024-01-01')")
    assert isinstance(error, DbgptError) and not isinstance(error, QueryTimeout)


def test_a_session_switched_to_read_write_is_read_only_again_on_next_use(ro: tuple[Engine, EngineConfig]) -> None:
    engine, config = ro
    with engine.connect() as conn:
        conn.execute(text("SET SESSION TRANSACTION READ WRITE"))
    pool = engine.pool
    assert isinstance(pool, QueuePool) and pool.checkedout() == 0 and pool.checkedin() == 1  # the same one comes back
    assert isinstance(refusal(engine, config, "INSERT INTO `order` VALUES (9, 1, 'new', 1, '2024-01-01')"), Forbidden)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT SLEEP(60)",
        "SELECT COUNT(*) FROM information_schema.COLUMNS a, information_schema.COLUMNS b, information_schema.COLUMNS c",
    ],
)
def test_engine_time_limit_cancels(ro: tuple[Engine, EngineConfig], sql: str) -> None:
    started = time.monotonic()
    assert isinstance(refusal(*ro, sql), QueryTimeout)
    assert time.monotonic() - started < 20  # each runs a minute or more without the limit
    with ro[0].connect() as conn:  # the connection is usable afterwards
        assert conn.execute(text("SELECT COUNT(*) FROM customers")).scalar() == 2


# --- the datasource service -------------------------------------------------------------------------------------


@pytest.fixture
def limited(settings: Settings) -> Iterator[Runtime]:
    """A runtime whose statements stop after 1 s."""
    runtime = Runtime(settings.model_copy(update={"sql_timeout": 1.0}), chat_model=ScriptedChatModel.replying())
    yield runtime
    runtime.close()


def _register(runtime: Runtime, shop: dict[str, Any], password: str) -> str:
    runtime.datasources.create(
        {
            "db_name": shop["database"],
            "db_type": "mysql",
            "db_host": shop["host"],
            "db_port": shop["port"],
            "db_user": shop["user"],
            "db_pwd": password,
        }
    )
    return str(shop["database"])


def test_service_reads_typed_rows_and_says_the_server(limited: Runtime, shop: dict[str, Any]) -> None:
    name = _register(limited, shop, str(shop["password"]))
    status = limited.connections.test(name)
    assert status.ok and "MariaDB" in (status.version or "")
    result = limited.sql.run_sql(name, "SELECT id, amount, placed FROM `order` ORDER BY id", limit=2)
    assert [tuple(row) for row in result.rows] == [
        (1, Decimal("10.50"), date(2023, 5, 1)),
        (2, Decimal("20.00"), date(2024, 1, 2)),
    ]
    assert result.truncated and result.limit_applied == 2
    with pytest.raises(Forbidden):
        limited.sql.run_sql(name, "DELETE FROM `order`")
    with pytest.raises(QueryTimeout):
        limited.sql.run_sql(name, "SELECT SLEEP(5)")


def test_bad_credentials_do_not_leak(limited: Runtime, shop: dict[str, Any]) -> None:
    name = _register(limited, shop, SECRET)
    status = limited.connections.test(name)
    assert not status.ok and "refused the login (db_user, db_pwd or db_name)" in (status.error or "")
    assert SECRET not in status.model_dump_json()
    with pytest.raises(Upstream) as caught:
        limited.sql.run_sql(name, "SELECT 1")
    assert SECRET not in caught.value.message


# --- introspection and chat_data ------------------------------------------------------------------------------


def test_introspection_keys_comments_samples_and_quoting(ro: tuple[Engine, EngineConfig]) -> None:
    schema = introspect(ro[0], "shop")
    assert schema.dialect == "mysql"
    assert [table.name for table in schema.tables] == ["customers", "order", "big_orders"]
    customers, order, view = schema.tables
    assert customers.comment == "people who buy" and customers.row_estimate == 2
    name = next(column for column in customers.columns if column.name == "name")
    assert name.comment == "full name" and not name.nullable and sorted(name.samples) == ["Ada", "Grace"]
    assert [column.name for column in order.columns if column.primary_key] == ["id"]
    assert order.foreign_keys[0].ref_table == "customers" and order.row_estimate == 3
    assert view.comment == "view"
    assert render_table(order, dialect="mysql").startswith("CREATE TABLE `order` (")


@pytest.mark.anyio
async def test_chat_data_runs_the_models_mysql_sql(settings: Settings, shop: dict[str, Any]) -> None:
    sql = "SELECT YEAR(placed) AS year, SUM(amount) AS total FROM `order` GROUP BY YEAR(placed) ORDER BY year"
    model = ScriptedChatModel.replying(f"```sql\n{sql}\n```")
    runtime = Runtime(settings, chat_model=model)
    try:
        _register(runtime, shop, str(shop["password"]))
        result = await runtime.chat.complete(
            ChatRequest(messages="Sales per year?", chat_mode=ChatMode.chat_data, chat_param=str(shop["database"]))
        )
    finally:
        runtime.close()
    [artifact] = result.artifacts
    assert isinstance(artifact, QueryArtifact)
    assert artifact.result.sql == sql
    assert [tuple(row) for row in artifact.result.rows] == [(2023, Decimal("10.50")), (2024, Decimal("27.25"))]
    assert "CREATE TABLE `order`" in model.texts(0)[0] and "mysql" in model.texts(0)[0]


def test_a_huge_result_is_read_only_as_far_as_needed(limited: Runtime, shop: dict[str, Any]) -> None:
    name = _register(limited, shop, str(shop["password"]))
    # MariaDB's sequence engine: 100 million rows, never read whole (PyMySQL would read every one to close).
    sql = "SELECT seq, REPEAT('x', 1000) AS wide FROM seq_1_to_100000000"
    started = time.monotonic()
    capped = limited.sql.run_sql(name, sql, limit=10)
    assert [row[0] for row in capped.rows] == list(range(1, 11)) and capped.truncated_reason == "rows"
    cut = limited.sql.run_sql(name, sql, limit=limited.settings.sql_max_row_limit)
    assert cut.truncated_reason == "bytes" and cut.row_count * 1008 <= limited.settings.sql_max_result_bytes
    assert time.monotonic() - started < 10
    assert limited.sql.run_sql(name, "SELECT COUNT(*) FROM customers").rows == [(2,)]  # the next one works


def test_a_password_beyond_latin_1_is_sent_as_utf_8(limited: Runtime, shop: dict[str, Any]) -> None:
    name = _register(limited, shop, "Ā€ü-" + SECRET)  # PyMySQL alone raises UnicodeEncodeError on this
    status = limited.connections.test(name)
    assert not status.ok and "refused the login" in (status.error or "")
    with pytest.raises(Upstream, match="refused the login"):
        limited.sql.run_sql(name, "SELECT 1")
