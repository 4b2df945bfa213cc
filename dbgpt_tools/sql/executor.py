"""`run_sql`: one checked statement on a datasource, read-only unless it is writable, time-limited, its rows capped
in number and bytes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.exc import SQLAlchemyError

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.engine_cache import EngineCache
from dbgpt_tools.sql.engine_config import HOST_TYPES
from dbgpt_tools.sql.errors import QueryTimeout, translate_error
from dbgpt_tools.sql.fetching import Fetched, fetch_bounded
from dbgpt_tools.sql.registry import DatasourceRegistry
from dbgpt_tools.sql.results import QueryResult
from dbgpt_tools.sql.safety import check_sql

ANSWER_GRACE_S = 2.0  # past the time limit, how long `arun_sql` waits for an engine to stop before answering


class SqlExecutor:
    """Runs statements that `check_sql` accepted on the datasource's guarded engine."""

    def __init__(self, settings: Settings, registry: DatasourceRegistry, engines: EngineCache) -> None:
        self._settings = settings
        self._registry = registry
        self._engines = engines
        self._threads = ThreadPoolExecutor(settings.sql_max_parallel, thread_name_prefix="sql")

    async def arun_sql(
        self, name_or_id: str | int, sql: str, limit: int | None = None, params: dict[str, Any] | None = None
    ) -> QueryResult:
        """`run_sql` on the statement threads (at most `sql_max_parallel` at once, so statements cannot take every
        thread from the rest of the server), answered within the time limit plus a grace period, waiting included.

        An engine stops a statement between its steps; one step that runs long (a function call on a large value)
        is not waited for: the caller gets its 504 and the statement ends in the background, its result dropped.
        """
        running = asyncio.get_running_loop().run_in_executor(
            self._threads, partial(self.run_sql, name_or_id, sql, limit, params)
        )
        timeout = self._settings.sql_timeout
        try:
            return await asyncio.wait_for(running, timeout + ANSWER_GRACE_S)
        except TimeoutError:  # a statement still waiting for a thread is dropped from the queue
            raise QueryTimeout(f"no result within the {timeout:g} s time limit") from None

    def close(self) -> None:
        """Drop statements still waiting for a thread (running ones end at their time limit)."""
        self._threads.shutdown(wait=False, cancel_futures=True)

    def run_sql(
        self,
        name_or_id: str | int,
        sql: str,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> QueryResult:
        """Run one checked statement (reads only, unless the datasource is writable): at most `limit` rows and the
        result byte budget, read a batch at a time (from a server-side cursor on PostgreSQL and MySQL)."""
        row = self._registry.resolve(name_or_id)
        checked = check_sql(sql, row.db_type, writable=not row.read_only)
        cap = self.row_cap(limit)
        config, engine = self._engines.engine_for(row)
        started = time.perf_counter()
        try:
            conn = engine.connect()
        except SQLAlchemyError as error:
            raise translate_error(error, config, connecting=True) from None
        stream = checked.kind == "select" and config.db_type in HOST_TYPES
        driver_error = engine.dialect.loaded_dbapi.Error
        with conn:
            try:
                result = conn.execution_options(stream_results=stream).execute(text(checked.sql), params or {})
                if result.returns_rows:
                    columns = [str(key) for key in result.keys()]  # noqa: SIM118  # a Result iterates rows
                    # Streamed results keep their first row in SQLAlchemy's buffer; the others are read from the
                    # driver's cursor directly (its tuples, no Row objects).
                    fetchmany = _tuples(result.fetchmany) if stream else result.cursor.fetchmany
                    fetched = fetch_bounded(fetchmany, cap, self._settings.sql_max_result_bytes)
                    if stream and fetched.truncated and config.db_type == "mysql":
                        _drop_unread_mysql_rows(result.cursor)
                        conn.invalidate()
                    else:
                        result.close()
                else:
                    columns, fetched = ["rows_affected"], Fetched([(result.rowcount,)], None)
                if checked.is_write:
                    conn.commit()
            except (SQLAlchemyError, driver_error) as error:
                raise translate_error(error, config) from None
        return QueryResult.model_construct(  # every field is built here from checked values
            columns=columns,
            rows=fetched.rows,  # the driver's values; QueryResult converts them when it is serialised to JSON
            row_count=len(fetched.rows),
            truncated=fetched.truncated is not None,
            truncated_reason=fetched.truncated,
            limit_applied=cap,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
            sql=checked.sql,
        )

    def row_cap(self, limit: int | None) -> int:
        """The row cap for a requested `limit` (the default when None; refused beyond the maximum)."""
        if limit is None:
            return self._settings.sql_row_limit
        if limit < 1:
            raise InvalidInput(f"limit must be at least 1, got {limit}", field="limit")
        if limit > self._settings.sql_max_row_limit:
            raise InvalidInput(
                f"limit {limit} exceeds the maximum of {self._settings.sql_max_row_limit} rows", field="limit"
            )
        return limit


def _tuples(fetchmany: Callable[[int], Sequence[Row[Any]]]) -> Callable[[int], list[tuple[Any, ...]]]:
    """`fetchmany` of SQLAlchemy rows as plain tuples."""
    return lambda size: [tuple(row) for row in fetchmany(size)]


def _drop_unread_mysql_rows(cursor: Any) -> None:
    """Let a streamed MySQL result go without reading its remaining rows: PyMySQL would read (and drop) them all
    when the cursor closes; the connection is thrown away instead (PyMySQL has no public call for this)."""
    unread = getattr(cursor, "_result", None)
    if unread is not None:
        unread.unbuffered_active = False
