"""Connection tests: connect and ask the server version, for a registered datasource or an unsaved one."""

from __future__ import annotations

import queue
import threading
import time

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from dbgpt_tools.errors import DbgptError
from dbgpt_tools.sql.datasource_models import MASK, ConnectionStatus, DatasourceIn
from dbgpt_tools.sql.engine_cache import EngineCache
from dbgpt_tools.sql.engine_config import CONNECT_TIMEOUT_S, EngineConfig
from dbgpt_tools.sql.engines import create_datasource_engine
from dbgpt_tools.sql.errors import first_line, scrub, translate_error
from dbgpt_tools.sql.registry import DatasourceRegistry
from dbgpt_tools.store.models import DatasourceRow

ANSWER_WITHIN = CONNECT_TIMEOUT_S + 2
"""Seconds a connection test waits for the server's version, connecting included."""
_VERSION_SQL = {
    "sqlite": "SELECT sqlite_version()",
    "duckdb": "SELECT version()",
    "postgresql": "SELECT version()",
    "mysql": "SELECT version()",
}


class ConnectionTester:
    """`test(target)`: whether a datasource answers, and its server version."""

    def __init__(self, registry: DatasourceRegistry, engines: EngineCache) -> None:
        self._registry = registry
        self._engines = engines

    def test(self, target: str | int | DatasourceIn) -> ConnectionStatus:
        """Connect and ask the server version; an unreachable server gives `ok=False` with a short error.

        A `DatasourceIn` is tested without being saved (its engine is thrown away afterwards); with an `id` and
        an empty or masked `db_pwd` it uses the stored password, as an update would.
        """
        source: DatasourceRow | DatasourceIn
        if isinstance(target, DatasourceIn):
            source = target
            if target.id is not None and target.db_pwd in ("", MASK):
                source = target.model_copy(update={"db_pwd": self._registry.stored_password(target.id, target)})
        else:
            source = self._registry.resolve(target)
        started = time.perf_counter()
        config: EngineConfig | None = None
        try:
            if isinstance(source, DatasourceIn):
                source = self._registry.check(source)
                config = self._engines.config(source)
                engine = create_datasource_engine(config)
            else:
                config, engine = self._engines.engine_for(source)
            try:
                version = _answered_in_time(engine, _VERSION_SQL[config.db_type])
            finally:
                if isinstance(source, DatasourceIn):
                    engine.dispose()
        except (DbgptError, SQLAlchemyError, OSError) as error:
            if isinstance(error, SQLAlchemyError) and config is not None:
                message = translate_error(error, config, connecting=True).message
            else:
                message = getattr(error, "message", None) or str(error)
            return ConnectionStatus(
                ok=False,
                db_name=source.db_name,
                db_type=source.db_type,
                elapsed_ms=_ms_since(started),
                error=scrub(first_line(message), source.db_pwd),
            )
        return ConnectionStatus(
            ok=True,
            db_name=source.db_name,
            db_type=source.db_type,
            version=None if version is None else str(version),
            elapsed_ms=_ms_since(started),
        )


class _NoAnswer(OSError):
    """The server took the connection but did not answer in time."""


def _answered_in_time(engine: Engine, sql: str) -> object:
    """The version query's answer, asked on a thread of its own and awaited at most ANSWER_WITHIN seconds: a host
    that accepts the connection and then says nothing would otherwise hold the caller for the driver's read
    timeout (the thread ends by that timeout)."""
    answer: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=1)

    def ask() -> None:
        try:
            with engine.connect() as conn:
                answer.put((conn.execute(text(sql)).scalar(), None))
        except BaseException as error:  # handed to the caller, who may still be waiting
            answer.put((None, error))

    threading.Thread(target=ask, name="connection-test", daemon=True).start()
    try:
        value, error = answer.get(timeout=ANSWER_WITHIN)
    except queue.Empty:
        raise _NoAnswer(f"the server accepted the connection but did not answer within {ANSWER_WITHIN} s") from None
    if error is not None:
        raise error
    return value


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
