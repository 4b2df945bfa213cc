"""A schema as compact DDL-like text for prompts and people: CREATE TABLE lines with keys, row counts, comments and
sample values as `--` comments, identifiers quoted only where the dialect needs it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import IdentifierPreparer

from dbgpt_tools.sql.schema_models import (
    ROW_COUNT_CAP,
    ColumnInfo,
    ForeignKeyInfo,
    TableInfo,
)

TEXT_TYPES = re.compile(r"CHAR|TEXT|CLOB|STRING", re.IGNORECASE)


NUMERIC_TYPES = re.compile(r"INT|REAL|NUM|DEC|FLOAT|DOUBLE|SERIAL|MONEY|BOOL", re.IGNORECASE)


@lru_cache(maxsize=16)
def _preparer(dialect: str | None) -> IdentifierPreparer:
    """The identifier quoting rules of a dialect by name (generic ANSI rules when unknown)."""
    if dialect:
        try:
            preparer: IdentifierPreparer = sa.dialects.registry.load(dialect)().identifier_preparer
            return preparer
        except Exception:  # an unknown or uninstalled dialect: fall back to the generic rules
            pass
    return sa.engine.default.DefaultDialect().identifier_preparer


def render_table(table: TableInfo, *, with_samples: bool = True, dialect: str | None = None) -> str:
    """Compact DDL-like text of `table` (row count, comments and sample values as `--` comments).

    Identifiers are quoted only where `dialect` (e.g. 'postgresql', 'mysql') requires it.
    """
    return render_columns(table, table.columns, with_samples=with_samples, dialect=dialect)


def render_columns(
    table: TableInfo, columns: Sequence[ColumnInfo], *, with_samples: bool, dialect: str | None = None
) -> str:
    """`render_table` with only `columns` shown (a trailing comment counts the others)."""
    q = _preparer(dialect).quote
    shown = {col.name for col in columns}
    single_fk = {fk.columns[0]: fk for fk in table.foreign_keys if len(fk.columns) == 1}
    pk = [col.name for col in table.columns if col.primary_key]
    items: list[tuple[str, str | None]] = []
    for col in columns:
        text = f"{q(col.name)} {col.type}".rstrip()
        if col.primary_key and len(pk) == 1:
            text += " PRIMARY KEY"
        fk = single_fk.get(col.name)
        if fk is not None:
            text += f" REFERENCES {_ref(fk, q)}"
        items.append((text, _column_note(col, with_samples)))
    if len(pk) > 1 and set(pk) <= shown:
        items.append((f"PRIMARY KEY ({', '.join(q(name) for name in pk)})", None))
    for fk in table.foreign_keys:
        if len(fk.columns) > 1 and set(fk.columns) <= shown:
            items.append((f"FOREIGN KEY ({', '.join(q(c) for c in fk.columns)}) REFERENCES {_ref(fk, q)}", None))
    head = f"CREATE TABLE {q(table.name)} ("
    notes = [note for note in (_rows_text(table.row_estimate), table.comment) if note]
    if notes:
        head += f"  -- {_one_line('; '.join(notes))}"
    lines = [head]
    for index, (text, note) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        lines.append(f"  {text}{comma}" + (f"  -- {note}" if note else ""))
    hidden = len(table.columns) - len(columns)
    if hidden > 0:
        lines.append(f"  -- {hidden} more column{'s' if hidden > 1 else ''}")
    lines.append(");")
    return "\n".join(lines)


def render_overview(table: TableInfo, *, dialect: str | None = None) -> str:
    """One line naming `table` and its columns, with keys and references but no types, comments or samples."""
    q = _preparer(dialect).quote
    single_fk = {fk.columns[0]: fk for fk in table.foreign_keys if len(fk.columns) == 1}
    items = []
    for col in table.columns:
        text = q(col.name)
        if col.primary_key:
            text += " PK"
        fk = single_fk.get(col.name)
        if fk is not None:
            text += f" -> {_ref(fk, q)}"
        items.append(text)
    return f"{q(table.name)}({', '.join(items)})"


def _ref(fk: ForeignKeyInfo, quote: Any) -> str:
    ref_table = ".".join(quote(part) for part in fk.ref_table.split(".", 1))
    return f"{ref_table}({', '.join(quote(c) for c in fk.ref_columns)})"


def _rows_text(rows: int | None) -> str | None:
    if rows is None:
        return None
    if rows == ROW_COUNT_CAP + 1:
        return f"over {ROW_COUNT_CAP} rows"
    return f"{rows} row" if rows == 1 else f"{rows} rows"


def _column_note(col: ColumnInfo, with_samples: bool) -> str | None:
    comment = col.comment or ""
    parts = [_one_line(comment)] if comment else []
    described = "e.g." in comment or "'" in comment or "YYYY" in comment
    if with_samples and col.samples and not described:  # a comment that shows values or a format is enough
        if NUMERIC_TYPES.search(col.type) and not TEXT_TYPES.search(col.type):
            values = ", ".join(col.samples)
        else:
            values = ", ".join("'" + value.replace("'", "''") + "'" for value in col.samples)
        parts.append(f"e.g. {values}")
    return "; ".join(parts) or None


def _one_line(text: str) -> str:
    return " ".join(text.split())
