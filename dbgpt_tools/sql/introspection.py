"""Schema introspection of a live database (SQLite, DuckDB, PostgreSQL, MySQL).

`introspect` reads only: catalog queries, one bounded sample query and (when the catalog has no
estimate) one capped count per table. It creates nothing, so it runs on a read-only connection. `SchemaCache`
keeps each datasource's schema for a while, and introspects again when the datasource's configuration changes.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from dbgpt_tools.errors import InvalidInput, Upstream
from dbgpt_tools.sql.catalog import duckdb_catalog, inspector_catalog
from dbgpt_tools.sql.engine_cache import EngineCache
from dbgpt_tools.sql.registry import DatasourceRegistry
from dbgpt_tools.sql.schema_models import SchemaInfo, TableInfo
from dbgpt_tools.sql.sqlite_comments import sqlite_ddl_comments
from dbgpt_tools.sql.table_samples import add_samples, capped_count, catalog_row_estimates
from dbgpt_tools.store.models import DatasourceRow


def introspect(
    engine: Engine,
    db_name: str,
    *,
    sample_values: int = 3,
    max_value_chars: int = 40,
    max_tables: int = 2000,
) -> SchemaInfo:
    """Describe the default schema of `engine`: tables and views, columns, keys, comments, rows, samples.

    Only the first `max_tables` tables/views (catalog order) are described. Works on a read-only connection.
    Raises `InvalidInput` for bad limits and `Upstream` when the database cannot be reached or read.
    """
    if sample_values < 0 or max_value_chars < 4 or max_tables < 1:
        raise InvalidInput("need sample_values >= 0, max_value_chars >= 4 and max_tables >= 1")
    try:
        return _introspect(engine, db_name, sample_values, max_value_chars, max_tables)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise Upstream(f"cannot read the schema of database {db_name!r}: {reason}") from error


def _introspect(engine: Engine, db_name: str, sample_values: int, max_value_chars: int, max_tables: int) -> SchemaInfo:
    dialect = engine.dialect.name
    with engine.connect() as conn:
        catalog = duckdb_catalog if dialect == "duckdb" else inspector_catalog
        raws = catalog(conn, max_tables)
        if dialect == "sqlite":
            sqlite_ddl_comments(conn, raws)
        estimates = catalog_row_estimates(conn, dialect)
        tables = []
        for raw in raws:
            row_estimate = None
            if not raw.is_view:
                row_estimate = estimates.get(raw.name)
                if row_estimate is None:
                    row_estimate = capped_count(conn, raw.name)
                if sample_values > 0:
                    add_samples(conn, raw, sample_values, max_value_chars)
            tables.append(
                TableInfo(
                    name=raw.name,
                    comment=raw.comment,
                    row_estimate=row_estimate,
                    columns=raw.columns,
                    foreign_keys=raw.foreign_keys,
                )
            )
        conn.rollback()
    return SchemaInfo(db_name=db_name, dialect=dialect, tables=tables)


# --- SQLite DDL comments ---------------------------------------------------------------------------------


class SchemaCache:
    """`schema(name)` introspects once per datasource configuration and keeps the result `ttl` seconds."""

    def __init__(self, registry: DatasourceRegistry, engines: EngineCache, ttl: float = 300.0) -> None:
        self._registry = registry
        self._engines = engines
        self._ttl = ttl
        self._entries: dict[int, tuple[str, float, SchemaInfo]] = {}
        self._lock = threading.Lock()

    def schema(self, datasource: str | int | DatasourceRow) -> SchemaInfo:
        """The datasource's schema (introspected now when missing, stale, or its configuration changed)."""
        row = datasource if isinstance(datasource, DatasourceRow) else self._registry.resolve(datasource)
        config, engine = self._engines.engine_for(row)
        fingerprint = config.fingerprint()
        with self._lock:
            entry = self._entries.get(row.id)
        if entry is not None and entry[0] == fingerprint and time.monotonic() - entry[1] < self._ttl:
            return entry[2]
        schema = introspect(engine, row.db_name)
        with self._lock:
            self._entries[row.id] = (fingerprint, time.monotonic(), schema)
        return schema
