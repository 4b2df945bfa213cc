"""Statement deadlines: engine events that start a connection's deadline when a statement is sent and stop it
when the transaction ends or the connection goes back to the pool."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event


def install_deadline_events(engine: Engine, start: Any, stop: Any) -> None:
    """Start the deadline when a statement is sent; stop it when the transaction ends or the connection returns.

    Fetching rows after `execute` still runs the statement (SQLite, DuckDB), so the deadline covers it too.
    """

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, _statement: Any, _params: Any, _context: Any, _many: Any) -> None:
        start(conn.connection.dbapi_connection)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(conn: Any) -> None:
        raw = conn.connection.dbapi_connection
        if raw is not None:
            stop(raw)

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            stop(dbapi_connection)

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection: Any, _record: Any, _state: Any) -> None:
        stop(dbapi_connection)


class DuckdbTimers:
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
