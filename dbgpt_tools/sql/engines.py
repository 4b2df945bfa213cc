"""SQLAlchemy engines for datasources, with the read-only rule and the time limit enforced by the engine itself.

The SQL checker (`sql_safety`) is the first gate; these engines are the second, so a statement that slips
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

import hashlib
import json
import math
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL

from dbgpt_tools.errors import DbgptError, Forbidden, InvalidInput, Upstream

FILE_TYPES = frozenset({"sqlite", "duckdb"})
HOST_TYPES = frozenset({"postgresql", "mysql"})
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
CONNECT_TIMEOUT_S = 5


class QueryTimeout(DbgptError):
    """A statement ran past the configured time limit and was cancelled."""

    status = 504


@dataclass(frozen=True)
class EngineConfig:
    """Everything an engine is built from; `fingerprint()` changes whenever any of it does."""

    db_type: str
    read_only: bool
    timeout: float
    path: Path | None = None
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = field(default="", repr=False)
    database: str = ""

    def fingerprint(self) -> str:
        """A hash of every connection field (the password included, never the password itself)."""
        payload = json.dumps(asdict(self), default=str, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def timeout_ms(self) -> int:
        return max(1, math.ceil(self.timeout * 1000))


def build_url(config: EngineConfig) -> URL:
    """The SQLAlchemy URL of a datasource (its `repr` masks the password)."""
    if config.db_type == "sqlite":
        return URL.create("sqlite", database=str(config.path))
    if config.db_type == "duckdb":
        return URL.create("duckdb", database=str(config.path))
    drivername = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}.get(config.db_type)
    if drivername is None:
        raise InvalidInput(f"unsupported db_type {config.db_type!r}", field="db_type")
    return URL.create(
        drivername,
        username=config.user or None,
        password=config.password or None,
        host=config.host,
        port=config.port or DEFAULT_PORTS[config.db_type],
        database=config.database or None,
    )


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


# --- SQLite -------------------------------------------------------------------------------------------------

DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})
# Pragmas that only report, whatever their argument (`PRAGMA table_info(t)`).
_QUERY_PRAGMAS = frozenset(
    {
        "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
        "foreign_key_list", "foreign_key_check", "database_list", "collation_list", "function_list",
        "module_list", "pragma_list", "compile_options", "integrity_check", "quick_check",
    }
)  # fmt: skip
# Pragmas that report without an argument and change a setting with one (`PRAGMA user_version = 3`).
_SETTING_PRAGMAS = frozenset(
    {
        "user_version", "application_id", "schema_version", "page_size", "page_count", "max_page_count",
        "freelist_count", "encoding", "journal_mode", "foreign_keys", "query_only", "data_version",
        "auto_vacuum", "cache_size", "synchronous", "busy_timeout", "read_uncommitted",
    }
)  # fmt: skip
_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})


class _GuardedSqlite(sqlite3.Connection):
    """A SQLite connection that carries the deadline its progress handler checks."""

    deadline: float | None = None


def _pragma_is_read(name: str | None, argument: str | None) -> bool:
    pragma = (name or "").lower()
    return pragma in _QUERY_PRAGMAS or (pragma in _SETTING_PRAGMAS and argument is None)


def _sqlite_authorizer(read_only: bool):  # type: ignore[no-untyped-def]
    """Allow reads (and, when writable, data changes); never ATTACH, extensions or setting pragmas."""

    def authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
        if action in _READ_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            return sqlite3.SQLITE_DENY if (arg2 or "").lower() in DENIED_FUNCTIONS else sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            return sqlite3.SQLITE_OK if _pragma_is_read(arg1, arg2) else sqlite3.SQLITE_DENY
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
            conn = sqlite3.connect(
                f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False, factory=_GuardedSqlite
            )
            conn.execute("PRAGMA query_only=ON")
        else:
            conn = sqlite3.connect(str(path), check_same_thread=False, factory=_GuardedSqlite)
        conn.execute(f"PRAGMA busy_timeout={config.timeout_ms}")
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        if hasattr(conn, "enable_load_extension"):  # absent when Python's SQLite cannot load extensions at all
            conn.enable_load_extension(False)
        conn.set_authorizer(_sqlite_authorizer(config.read_only))

        def past_deadline() -> int:
            deadline = conn.deadline
            return 1 if deadline is not None and time.monotonic() > deadline else 0

        conn.set_progress_handler(past_deadline, 1000)
        return conn

    engine = create_engine(build_url(config), creator=connect, pool_pre_ping=True)

    def start(raw: Any) -> None:
        raw.deadline = time.monotonic() + config.timeout

    def stop(raw: Any) -> None:
        raw.deadline = None

    _install_deadline_events(engine, start, stop)
    return engine


def _install_deadline_events(engine: Engine, start: Any, stop: Any) -> None:
    """Start the deadline when a statement is sent; stop it when the transaction ends or the connection returns.

    Fetching rows after `execute` still runs the statement (SQLite, DuckDB), so the deadline covers it too.
    """

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, _cursor, _statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        start(conn.connection.dbapi_connection)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(conn) -> None:  # type: ignore[no-untyped-def]
        raw = conn.connection.dbapi_connection
        if raw is not None:
            stop(raw)

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        if dbapi_connection is not None:
            stop(dbapi_connection)

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection, _record, _state) -> None:  # type: ignore[no-untyped-def]
        stop(dbapi_connection)


# --- DuckDB -------------------------------------------------------------------------------------------------


class _DuckdbTimers:
    """One pending interrupt timer per raw DuckDB connection."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._timers: dict[int, threading.Timer] = {}
        self._lock = threading.Lock()

    def start(self, raw: Any) -> None:
        timer = threading.Timer(self._timeout, raw.interrupt)
        timer.daemon = True
        with self._lock:
            previous = self._timers.pop(id(raw), None)
            self._timers[id(raw)] = timer
        if previous is not None:
            previous.cancel()
        timer.start()

    def stop(self, raw: Any) -> None:
        with self._lock:
            timer = self._timers.pop(id(raw), None)
        if timer is not None:
            timer.cancel()


def _duckdb_engine(config: EngineConfig) -> Engine:
    duck_config: dict[str, Any] = {"enable_external_access": False}
    if config.read_only:
        duck_config["lock_configuration"] = True
    engine = create_engine(
        build_url(config),
        connect_args={"read_only": config.read_only, "config": duck_config},
        pool_pre_ping=True,
    )
    timers = _DuckdbTimers(config.timeout)
    _install_deadline_events(engine, timers.start, timers.stop)
    return engine


# --- PostgreSQL and MySQL -----------------------------------------------------------------------------------


def _postgresql_engine(config: EngineConfig) -> Engine:
    engine = create_engine(
        build_url(config),
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "dbgpt-tools"},
        pool_pre_ping=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {config.timeout_ms}")
            if config.read_only:
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        dbapi_connection.autocommit = False
        dbapi_connection.read_only = config.read_only  # psycopg then opens each transaction READ ONLY

    @event.listens_for(engine, "do_execute")
    def _one_statement(cursor, statement, parameters, _context) -> bool:  # type: ignore[no-untyped-def]
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
    def _on_checkout(dbapi_connection, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
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


# --- Errors -------------------------------------------------------------------------------------------------


def _is_timeout(original: BaseException) -> bool:
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate == "57014":  # PostgreSQL query_canceled (statement_timeout)
        return True
    if type(original).__name__ == "InterruptException":  # DuckDB
        return True
    args = getattr(original, "args", ())
    if args and args[0] in (3024, 1317, 1969):  # MySQL max_execution_time / interrupted / MariaDB max_statement_time
        return True
    return isinstance(original, sqlite3.OperationalError) and str(original) == "interrupted"


def _is_refusal(original: BaseException) -> bool:
    if getattr(original, "sqlstate", None) == "25006":  # PostgreSQL read_only_sql_transaction
        return True
    if type(original).__name__ == "PermissionException":  # DuckDB external access disabled
        return True
    text = str(original).lower()
    return any(
        marker in text
        for marker in (
            "not authorized",
            "authorization denied",
            "readonly database",
            "read-only",
            "read only",
            "too many attached databases",
            "multiple commands",
        )
    )


def first_line(message: str, limit: int = 300) -> str:
    """The first line of an error message, cut to `limit` characters."""
    line = message.strip().splitlines()[0] if message.strip() else message
    return line if len(line) <= limit else line[: limit - 1] + "…"


def scrub(message: str, secret: str) -> str:
    """`message` with `secret` masked (drivers sometimes echo connection parameters)."""
    return message.replace(secret, "******") if secret else message


def translate_error(error: BaseException, config: EngineConfig, *, connecting: bool = False) -> DbgptError:
    """A `DbgptError` carrying the database's own message (never the password)."""
    original = error.orig if isinstance(error, exc.DBAPIError) and error.orig is not None else error
    message = scrub(first_line(str(original) or type(original).__name__), config.password)
    if _is_timeout(original):
        return QueryTimeout(f"statement cancelled after the {config.timeout:g} s time limit: {message}")
    if connecting or (isinstance(error, exc.DBAPIError) and error.connection_invalidated):
        return Upstream(f"cannot reach the {config.db_type} database: {message}")
    if _is_refusal(original):
        return Forbidden(f"the database refused the statement: {message}", field="sql")
    if config.db_type in HOST_TYPES and isinstance(error, exc.InterfaceError):
        return Upstream(f"the {config.db_type} connection failed: {message}")
    return InvalidInput(f"the database rejected the statement: {message}", field="sql")
