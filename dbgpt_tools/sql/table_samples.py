"""Row estimates (the catalog's, else a capped count) and a few sample values per column, each from one bounded
query per table."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from dbgpt_tools.sql.catalog import RawTable
from dbgpt_tools.sql.schema_models import ROW_COUNT_CAP
from dbgpt_tools.sql.schema_text import TEXT_TYPES

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
