"""Schema introspection of a live database (SQLite, DuckDB, PostgreSQL, MySQL).

`introspect` reads only: catalog queries, one bounded sample query and (when the catalog has no
estimate) one capped count per table. It creates nothing, so it runs on a read-only connection. `SchemaCache`
keeps each datasource's schema for a while, and introspects again when the datasource's configuration changes.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from dbgpt_tools.errors import InvalidInput, Upstream
from dbgpt_tools.sql.catalog import RawTable, duckdb_catalog, inspector_catalog, sqlite_ddl_comments
from dbgpt_tools.sql.engine_cache import EngineCache
from dbgpt_tools.sql.errors import translate_error
from dbgpt_tools.sql.registry import DatasourceRegistry
from dbgpt_tools.sql.schema_models import ROW_COUNT_CAP, SchemaInfo, TableInfo
from dbgpt_tools.sql.schema_text import TEXT_TYPES
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
        try:  # a server that cannot be reached is described as queries describe it: nothing of what it sent
            engine.connect().close()
        except SQLAlchemyError as error:
            raise translate_error(error, config, connecting=True) from None
        schema = introspect(engine, row.db_name)
        with self._lock:
            self._entries[row.id] = (fingerprint, time.monotonic(), schema)
        return schema

    def forget(self, datasource: str | int) -> None:
        """Drop a datasource's kept schema (NotFound when there is no such datasource): the next use introspects it
        again, to see tables changed behind the cache's back."""
        row = self._registry.resolve(datasource)
        with self._lock:
            self._entries.pop(row.id, None)


# --- Row estimates and samples ---------------------------------------------------------------------------

SAMPLE_ROWS = 200
"""Sample values are the first distinct non-null values found in this many rows of the table."""


_NO_SAMPLE_TYPES = re.compile(
    r"BLOB|BYTEA|BINARY|IMAGE|UUID|JSON|XML|GEOM|GEOGRAPHY|ARRAY|\[\]|STRUCT|MAP|UNION|LIST|VECTOR|RAW|BIT|OID",
    re.IGNORECASE,
)


def catalog_row_estimates(conn: Connection, dialect: str) -> dict[str, int]:
    """Cheap row estimates the catalog keeps (no scan); tables it has none for are absent."""
    queries = {
        "postgresql": "SELECT c.relname, c.reltuples FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm', 'f') AND c.reltuples >= 0",
        "mysql": "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_ROWS IS NOT NULL",
        "duckdb": "SELECT table_name, estimated_size FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = current_schema()",
        "sqlite": "SELECT tbl, stat FROM sqlite_stat1",
    }
    query = queries.get(dialect)
    if query is None:
        return {}
    try:
        if dialect == "sqlite":
            has_stat = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
            ).first()
            if not has_stat:
                return {}
        rows = conn.exec_driver_sql(query).all()
    except SQLAlchemyError:
        conn.rollback()
        return {}
    estimates: dict[str, int] = {}
    for name, value in rows:
        if dialect == "sqlite":  # "rows [rows-per-key ...]": the first number is the table's row count
            first = str(value or "").split(" ", 1)[0]
            if not first.isdigit():
                continue
            value = int(first)
        if value is not None:
            estimates[name] = max(estimates.get(name, 0), int(value))
    return estimates


def capped_count(conn: Connection, table: str) -> int | None:
    """Rows of `table`, counted up to `ROW_COUNT_CAP + 1` (so a huge table costs a bounded scan)."""
    inner = sa.select(sa.literal_column("1")).select_from(sa.table(table)).limit(ROW_COUNT_CAP + 1).subquery()
    try:
        return int(conn.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one())
    except SQLAlchemyError:
        conn.rollback()
        return None


def _sample_kind(type_text: str) -> str | None:
    """'text' (truncated in SQL), 'value' (sampled as is) or None (not sampled: binary, JSON, arrays...)."""
    if _NO_SAMPLE_TYPES.search(type_text):
        return None
    return "text" if TEXT_TYPES.search(type_text) else "value"


def add_samples(conn: Connection, raw: RawTable, n: int, max_chars: int) -> None:
    """Fill `samples` from the first `SAMPLE_ROWS` rows: one bounded query per table."""
    fk_columns = {name for fk in raw.foreign_keys for name in fk.columns}
    targets = [
        (col, kind)
        for col in raw.columns
        if not col.primary_key and col.name not in fk_columns and (kind := _sample_kind(col.type)) is not None
    ]
    if not targets:
        return
    exprs = [
        sa.func.substr(sa.column(col.name), 1, max_chars + 1) if kind == "text" else sa.column(col.name)
        for col, kind in targets
    ]
    stmt = sa.select(*exprs).select_from(sa.table(raw.name)).limit(SAMPLE_ROWS)
    try:
        rows = conn.execute(stmt).all()
    except SQLAlchemyError:
        conn.rollback()
        return
    for index, (col, _) in enumerate(targets):
        seen: list[str] = []
        for row in rows:
            text = _sample_text(row[index], max_chars)
            if text is not None and text not in seen:
                seen.append(text)
                if len(seen) == n:
                    break
        col.samples = seen


def _sample_text(value: Any, max_chars: int) -> str | None:
    if value is None or isinstance(value, bytes | bytearray | memoryview):
        return None
    text = " ".join(str(value).split())
    if not text:
        return None
    return text if len(text) <= max_chars else text[: max(max_chars - 1, 0)] + "…"
