"""SQLAlchemy engines for datasources, with the read-only rule and the time limit enforced by the engine itself.

The SQL checker (`sql.safety`) is the first gate; these engines are the second, so a statement that slips
past the parser still cannot write or run forever:

- SQLite: opened `mode=ro`, `PRAGMA query_only`, no ATTACH (`SQLITE_LIMIT_ATTACHED` 0), no extensions, an
  authorizer that allows only reads, and a length limit on every value (no function call builds a gigabyte);
  the watchdog (`sql.watchdog`) interrupts a statement past its deadline.
- DuckDB: opened `read_only`, `enable_external_access=false` (no file access, no INSTALL/LOAD, no COPY TO), a
  memory limit without spilling to disk, configuration locked; the watchdog interrupts a statement past its deadline.
- PostgreSQL: every transaction `READ ONLY`, `statement_timeout`, and one statement per execution
  (extended protocol), so `SET TRANSACTION READ WRITE; INSERT ...` cannot be stacked.
- MySQL / MariaDB: `SET SESSION TRANSACTION READ ONLY` and `max_execution_time` (MariaDB: `max_statement_time`)
  on every checkout from the pool; PyMySQL refuses stacked statements.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.sql.engine_config import CONNECT_TIMEOUT_S, EngineConfig, build_url
from dbgpt_tools.sql.safety import pragma_reads
from dbgpt_tools.sql.watchdog import WATCHDOG


def create_datasource_engine(config: EngineConfig) -> Engine:
    """An engine for one datasource, with the safety of its type installed on every new connection."""
    builders = {
        "sqlite": _sqlite_engine,
        "duckdb": _duckdb_engine,
        "postgresql": _postgresql_engine,
        "mysql": _mysql_engine,
    }
    builder = builders.get(config.db_type)
    if builder is None:
        raise InvalidInput(f"unsupported db_type {config.db_type!r}", field="db_type")
    return builder(config)


# --- Deadlines ----------------------------------------------------------------------------------------------


def _install_deadline_events(engine: Engine, timeout: float) -> None:
    """Start the watchdog's deadline when a statement is sent; stop it when the transaction ends or the connection
    returns. Fetching rows after `execute` still runs the statement (SQLite, DuckDB), so the deadline covers it."""

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, _statement: Any, _params: Any, _context: Any, _many: Any) -> None:
        WATCHDOG.start(conn.connection.dbapi_connection, timeout)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(conn: Any) -> None:
        raw = conn.connection.dbapi_connection
        if raw is not None:
            WATCHDOG.stop(raw)

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            WATCHDOG.stop(dbapi_connection)

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection: Any, _record: Any, _state: Any) -> None:
        WATCHDOG.stop(dbapi_connection)


# --- SQLite -------------------------------------------------------------------------------------------------


DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})
_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})


Authorizer = Callable[[int, str | None, str | None, str | None, str | None], int]


def _sqlite_authorizer(read_only: bool) -> Authorizer:
    """Allow reads (and, when writable, data changes); never ATTACH, extensions or setting pragmas."""

    def authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
        if action in _READ_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            return sqlite3.SQLITE_DENY if (arg2 or "").lower() in DENIED_FUNCTIONS else sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            return sqlite3.SQLITE_OK if pragma_reads(arg1 or "", has_argument=arg2 is not None) else sqlite3.SQLITE_DENY
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_TRANSACTION:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY if read_only else sqlite3.SQLITE_OK

    return authorize


def _sqlite_engine(config: EngineConfig) -> Engine:
    path = Path(str(config.path))

    def connect() -> sqlite3.Connection:
        if config.read_only:
            conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
        else:
            conn = sqlite3.connect(str(path), check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={config.timeout_ms}")
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, config.max_value_bytes)  # no function builds a huge value
        if hasattr(conn, "enable_load_extension"):  # absent when Python's SQLite cannot load extensions at all
            conn.enable_load_extension(False)
        conn.set_authorizer(_sqlite_authorizer(config.read_only))
        return conn

    engine = create_engine(build_url(config), creator=connect, pool_pre_ping=True)
    _install_deadline_events(engine, config.timeout)
    return engine


# --- DuckDB -------------------------------------------------------------------------------------------------


def _duckdb_engine(config: EngineConfig) -> Engine:
    duck_config: dict[str, Any] = {
        "enable_external_access": False,
        "memory_limit": f"{config.memory_mb}MB",
        "temp_directory": "",  # nothing spills to disk: a statement past its memory fails at once
        "lock_configuration": True,  # SET cannot lift any of this, on writable datasources either
    }
    engine = create_engine(
        build_url(config),
        connect_args={"read_only": config.read_only, "config": duck_config},
        pool_pre_ping=True,
    )
    _install_deadline_events(engine, config.timeout)
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
        # A prepared statement holds exactly one command: PostgreSQL refuses `...; ...` here. A server-side cursor
        # (a streamed SELECT) is declared through the extended protocol, which refuses it as well.
        if isinstance(cursor, psycopg.ServerCursor):
            cursor.execute(statement, parameters)
        else:
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
            # PyMySQL sends a text password as Latin-1 (and fails on anything else); UTF-8 is what the mysql client
            # sends for a password typed in a UTF-8 terminal
            "password": config.password.encode(),
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
