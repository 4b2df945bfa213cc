"""SQLAlchemy engines for datasources, with the read-only rule and the time limit enforced by the engine itself.

The SQL checker (`sql.safety`) is the first gate; these engines are the second, so a statement that slips
past the parser still cannot write or run forever:

- SQLite: opened `mode=ro`, `PRAGMA query_only`, no ATTACH (`SQLITE_LIMIT_ATTACHED` 0), no extensions, an
  authorizer that allows only reads, and a progress handler enforcing the statement deadline.
- DuckDB: opened `read_only`, `enable_external_access=false` (no file access, no INSTALL/LOAD, no COPY TO),
  configuration locked; a timer interrupts a statement past its deadline.
- PostgreSQL: every transaction `READ ONLY`, `statement_timeout`, and one statement per execution
  (extended protocol), so `SET TRANSACTION READ WRITE; INSERT ...` cannot be stacked.
- MySQL / MariaDB: `SET SESSION TRANSACTION READ ONLY` and `max_execution_time` (MariaDB: `max_statement_time`)
  on every checkout from the pool; PyMySQL refuses stacked statements.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Engine, create_engine, event

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.sql.deadlines import DuckdbTimers, install_deadline_events
from dbgpt_tools.sql.engine_config import CONNECT_TIMEOUT_S, EngineConfig, build_url
from dbgpt_tools.sql.sqlite_engine import sqlite_engine


def create_datasource_engine(config: EngineConfig) -> Engine:
    """An engine for one datasource, with the safety of its type installed on every new connection."""
    builders = {
        "sqlite": sqlite_engine,
        "duckdb": _duckdb_engine,
        "postgresql": _postgresql_engine,
        "mysql": _mysql_engine,
    }
    builder = builders.get(config.db_type)
    if builder is None:
        raise InvalidInput(f"unsupported db_type {config.db_type!r}", field="db_type")
    return builder(config)


# --- DuckDB -------------------------------------------------------------------------------------------------


def _duckdb_engine(config: EngineConfig) -> Engine:
    duck_config: dict[str, Any] = {"enable_external_access": False}
    if config.read_only:
        duck_config["lock_configuration"] = True
    engine = create_engine(
        build_url(config),
        connect_args={"read_only": config.read_only, "config": duck_config},
        pool_pre_ping=True,
    )
    timers = DuckdbTimers(config.timeout)
    install_deadline_events(engine, timers.start, timers.stop)
    return engine


# --- PostgreSQL and MySQL -----------------------------------------------------------------------------------


def _postgresql_engine(config: EngineConfig) -> Engine:
    engine = create_engine(
        build_url(config),
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "dbgpt-tools"},
        pool_pre_ping=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {config.timeout_ms}")
            if config.read_only:
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        dbapi_connection.autocommit = False
        dbapi_connection.read_only = config.read_only  # psycopg then opens each transaction READ ONLY

    @event.listens_for(engine, "do_execute")
    def _one_statement(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
        # A prepared statement holds exactly one command: PostgreSQL refuses `...; ...` here.
        cursor.execute(statement, parameters, prepare=True)
        return True

    return engine


def _mysql_engine(config: EngineConfig) -> Engine:
    engine = create_engine(
        build_url(config),
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_S,
            "read_timeout": math.ceil(config.timeout) + CONNECT_TIMEOUT_S,
            "charset": "utf8mb4",
        },
        pool_pre_ping=True,
    )

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # On every checkout, not once per connection: a session variable set by an earlier statement (say
        # `SET SESSION TRANSACTION READ WRITE`) must not outlive the call that ran it.
        with dbapi_connection.cursor() as cursor:
            if "mariadb" in dbapi_connection.get_server_info().lower():  # MariaDB names it differently, in seconds
                cursor.execute(f"SET SESSION max_statement_time = {config.timeout_ms / 1000}")
            else:
                cursor.execute(f"SET SESSION max_execution_time = {config.timeout_ms}")
            if config.read_only:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")

    return engine
