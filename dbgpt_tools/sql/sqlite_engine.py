"""SQLite engines: opened `mode=ro` with `query_only`, no ATTACH, no extensions, an authorizer that allows only
reads (and data changes when writable), and a progress handler that enforces the statement deadline."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine

from dbgpt_tools.sql.deadlines import install_deadline_events
from dbgpt_tools.sql.engine_config import EngineConfig, build_url
from dbgpt_tools.sql.pragmas import pragma_reads

DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})


_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})


class _GuardedSqlite(sqlite3.Connection):
    """A SQLite connection that carries the deadline its progress handler checks."""

    deadline: float | None = None


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


def sqlite_engine(config: EngineConfig) -> Engine:
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

    install_deadline_events(engine, start, stop)
    return engine
