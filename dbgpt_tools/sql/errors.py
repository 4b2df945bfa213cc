"""Database errors as our own: time limits, refusals, unreachable servers, rejected statements (never a password)."""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc

from dbgpt_tools.errors import DbgptError, Forbidden, InvalidInput, Upstream
from dbgpt_tools.sql.engine_config import DEFAULT_PORTS, HOST_TYPES, EngineConfig


class QueryTimeout(DbgptError):
    """A statement ran past the configured time limit and was cancelled."""

    status = 504


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


_LOGIN_REFUSED = ("password authentication failed", "no pg_hba.conf entry", "authentication failed for user")


def _is_login_refused(original: BaseException) -> bool:
    """The server spoke its protocol and refused the user, password or database."""
    if getattr(original, "sqlstate", None) in ("28P01", "28000", "3D000"):  # PostgreSQL, in a session
        return True
    text = str(original)
    if "FATAL:" in text and any(marker in text for marker in _LOGIN_REFUSED):  # PostgreSQL, refused at connect
        return True
    if "FATAL:" in text and "database" in text and "does not exist" in text:
        return True
    args: tuple[object, ...] = getattr(original, "args", ())
    return bool(args) and args[0] in (1044, 1045, 1049)  # MySQL: access denied, unknown database


def connection_failure(original: BaseException, config: EngineConfig) -> Upstream:
    """Why a server could not be used, in one generic message per kind: nothing of what the peer said (a closed
    port, an open one, or a service that is not this database read alike)."""
    where = f"{config.host}:{config.port or DEFAULT_PORTS[config.db_type]}"
    if _is_login_refused(original):
        return Upstream(f"the {config.db_type} server at {where} refused the login (db_user, db_pwd or db_name)")
    return Upstream(f"cannot connect to a {config.db_type} server at {where}")


def translate_error(error: BaseException, config: EngineConfig, *, connecting: bool = False) -> DbgptError:
    """A `DbgptError` carrying the database's own message (never the password); a server that cannot be reached
    or refuses the login is described without repeating what it sent."""
    original = error.orig if isinstance(error, exc.DBAPIError) and error.orig is not None else error
    message = scrub(first_line(str(original) or type(original).__name__), config.password)
    if _is_timeout(original):
        return QueryTimeout(f"statement cancelled after the {config.timeout:g} s time limit: {message}")
    lost = isinstance(error, exc.DBAPIError) and error.connection_invalidated
    if config.db_type in HOST_TYPES and (connecting or lost):
        return connection_failure(original, config)
    if connecting or lost:
        return Upstream(f"cannot open the {config.db_type} database: {message}")
    if _is_refusal(original):
        return Forbidden(f"the database refused the statement: {message}", field="sql")
    if config.db_type in HOST_TYPES and isinstance(error, exc.InterfaceError):
        return Upstream(f"the {config.db_type} connection failed: {message}")
    return InvalidInput(f"the database rejected the statement: {message}", field="sql")
