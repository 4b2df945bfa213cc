"""`run_sql`: one checked statement on a datasource, read-only unless it is writable, row-capped, time-limited."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.engine_cache import EngineCache
from dbgpt_tools.sql.errors import translate_error
from dbgpt_tools.sql.registry import DatasourceRegistry
from dbgpt_tools.sql.results import QueryResult
from dbgpt_tools.sql.safety import check_sql


class SqlExecutor:
    """Runs statements that `check_sql` accepted on the datasource's guarded engine."""

    def __init__(self, settings: Settings, registry: DatasourceRegistry, engines: EngineCache) -> None:
        self._settings = settings
        self._registry = registry
        self._engines = engines

    def run_sql(
        self,
        name_or_id: str | int,
        sql: str,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> QueryResult:
        """Run one checked statement (reads only, unless the datasource is writable), at most `limit` rows."""
        row = self._registry.resolve(name_or_id)
        checked = check_sql(sql, row.db_type, writable=not row.read_only)
        cap = self.row_cap(limit)
        config, engine = self._engines.engine_for(row)
        started = time.perf_counter()
        try:
            conn = engine.connect()
        except SQLAlchemyError as error:
            raise translate_error(error, config, connecting=True) from None
        with conn:
            try:
                result = conn.execute(text(checked.sql), params or {})
                fetched: Sequence[Any]
                if result.returns_rows:
                    columns = [str(key) for key in result.keys()]  # noqa: SIM118  # a Result iterates rows
                    fetched = result.cursor.fetchmany(cap + 1)  # the driver's tuples, no Row objects
                    result.close()
                else:
                    columns, fetched = ["rows_affected"], [(result.rowcount,)]
                if checked.is_write:
                    conn.commit()
            except SQLAlchemyError as error:
                raise translate_error(error, config) from None
        truncated = len(fetched) > cap
        # The driver's values (QueryResult converts them when it is serialised to JSON); DB-API drivers return a list.
        rows = cast(list[Sequence[Any]], fetched[:cap])
        return QueryResult.model_construct(  # every field is built here from checked values
            columns=columns,
            rows=rows,
            row_count=len(rows),
            truncated=truncated,
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
