"""Schema introspection of a live database (SQLite, DuckDB, PostgreSQL, MySQL) and its DDL-like rendering.

`introspect` reads only: catalog queries, one bounded sample query and (when the catalog has no
estimate) one capped count per table. It creates nothing, so it runs on a read-only connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection, Engine, ObjectKind
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.compiler import IdentifierPreparer

from dbgpt_tools.errors import InvalidInput, Upstream

ROW_COUNT_CAP = 100_000
"""A table without a catalog estimate is counted up to this many rows; more is stored as `ROW_COUNT_CAP + 1`."""

SAMPLE_ROWS = 200
"""Sample values are the first distinct non-null values found in this many rows of the table."""

_NO_SAMPLE_TYPES = re.compile(
    r"BLOB|BYTEA|BINARY|IMAGE|UUID|JSON|XML|GEOM|GEOGRAPHY|ARRAY|\[\]|STRUCT|MAP|UNION|LIST|VECTOR|RAW|BIT|OID",
    re.IGNORECASE,
)
_TEXT_TYPES = re.compile(r"CHAR|TEXT|CLOB|STRING", re.IGNORECASE)
_NUMERIC_TYPES = re.compile(r"INT|REAL|NUM|DEC|FLOAT|DOUBLE|SERIAL|MONEY|BOOL", re.IGNORECASE)


class ColumnInfo(BaseModel):
    """One column: its declared type as text, keys, comment and a few sample values."""

    name: str
    type: str = Field(description="The declared type as the database spells it ('' when SQLite has none).")
    nullable: bool = True
    primary_key: bool = False
    comment: str | None = None
    samples: list[str] = Field(default_factory=list, description="A few distinct non-null values, truncated.")


class ForeignKeyInfo(BaseModel):
    """A foreign key from `columns` of the owning table to `ref_columns` of `ref_table`."""

    columns: list[str]
    ref_table: str
    ref_columns: list[str]


class TableInfo(BaseModel):
    """One table (or view, whose comment starts with 'view')."""

    name: str
    comment: str | None = None
    row_estimate: int | None = Field(
        default=None, description=f"Approximate rows; {ROW_COUNT_CAP + 1} from a capped count means 'more'."
    )
    columns: list[ColumnInfo] = Field(default_factory=list)
    foreign_keys: list[ForeignKeyInfo] = Field(default_factory=list)


class SchemaInfo(BaseModel):
    """The tables of one database's default schema, in the database's own order (tables, then views)."""

    db_name: str
    dialect: str
    tables: list[TableInfo] = Field(default_factory=list)


@dataclass
class _Raw:
    """A table as the catalog describes it, before samples and row estimates."""

    name: str
    is_view: bool
    comment: str | None = None
    columns: list[ColumnInfo] = field(default_factory=list)
    foreign_keys: list[ForeignKeyInfo] = field(default_factory=list)


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
        if dialect == "duckdb":
            raws = _duckdb_catalog(conn, max_tables)
        else:
            raws = _inspector_catalog(conn, max_tables)
        if dialect == "sqlite":
            _sqlite_ddl_comments(conn, raws)
        estimates = _catalog_row_estimates(conn, dialect)
        tables = []
        for raw in raws:
            row_estimate = None
            if not raw.is_view:
                row_estimate = estimates.get(raw.name)
                if row_estimate is None:
                    row_estimate = _capped_count(conn, raw.name)
                if sample_values > 0:
                    _add_samples(conn, raw, sample_values, max_value_chars)
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


# --- catalog -------------------------------------------------------------------------------------------


def _view_comment(comment: str | None) -> str:
    return f"view; {comment}" if comment else "view"


def _inspector_catalog(conn: Connection, max_tables: int) -> list[_Raw]:
    """Tables and views through SQLAlchemy's inspector: batched `get_multi_*`, per table if that fails."""
    inspector = sa.inspect(conn)
    tables = sorted(inspector.get_table_names())  # a stable order: the schema text is a cached prompt prefix
    try:
        views = sorted(inspector.get_view_names())
    except (NotImplementedError, SQLAlchemyError):
        conn.rollback()
        views = []
    names = [(name, False) for name in tables] + [(name, True) for name in views if name not in tables]
    raws = [_Raw(name=name, is_view=is_view) for name, is_view in names[:max_tables]]
    if not raws:
        return []
    try:
        _fill_batched(conn, raws)
    except (NotImplementedError, SQLAlchemyError):
        conn.rollback()
        errors = {raw.name: error for raw in raws if (error := _fill_one(conn, raw)) is not None}
        if len(errors) == len(raws):
            name, error = next(iter(errors.items()))
            raise Upstream(f"cannot read the catalog entry of table {name!r}: {error}")
        raws = [raw for raw in raws if raw.name not in errors]
    return raws


def _fill_batched(conn: Connection, raws: list[_Raw]) -> None:
    inspector = sa.inspect(conn)
    names = [raw.name for raw in raws]
    kw: dict[str, Any] = {"kind": ObjectKind.ANY, "filter_names": names}
    columns = inspector.get_multi_columns(**kw)
    pks = inspector.get_multi_pk_constraint(**kw)
    fks = inspector.get_multi_foreign_keys(**kw)
    try:
        comments = inspector.get_multi_table_comment(**kw)
    except NotImplementedError:
        comments = {}
    for raw in raws:
        key = (None, raw.name)
        comment = (comments.get(key) or {}).get("text")
        _fill(conn, raw, columns.get(key, []), pks.get(key) or {}, fks.get(key, []), comment)


def _fill_one(conn: Connection, raw: _Raw) -> str | None:
    """Describe one table by itself; the reason if the catalog refuses it (the table is then left out)."""
    inspector = sa.inspect(conn)
    try:
        columns = inspector.get_columns(raw.name)
        pk = inspector.get_pk_constraint(raw.name) if not raw.is_view else {}
        fks = inspector.get_foreign_keys(raw.name) if not raw.is_view else []
    except (NotImplementedError, SQLAlchemyError) as error:
        conn.rollback()
        return str(getattr(error, "orig", None) or error).splitlines()[0]
    try:
        comment = inspector.get_table_comment(raw.name).get("text")
    except (NotImplementedError, SQLAlchemyError):
        conn.rollback()
        comment = None
    _fill(conn, raw, columns, pk, fks, comment)
    return None


def _fill(
    conn: Connection,
    raw: _Raw,
    columns: Iterable[dict[str, Any]],
    pk: dict[str, Any],
    fks: Iterable[dict[str, Any]],
    comment: str | None,
) -> None:
    pk_columns = set(pk.get("constrained_columns") or [])
    raw.comment = _view_comment(comment) if raw.is_view else comment
    raw.columns = [
        ColumnInfo(
            name=col["name"],
            type=_type_text(col["type"], conn.dialect),
            nullable=bool(col.get("nullable", True)) and col["name"] not in pk_columns,
            primary_key=col["name"] in pk_columns,
            comment=col.get("comment") or None,
        )
        for col in columns
    ]
    default_schema = conn.dialect.default_schema_name
    raw.foreign_keys = [
        ForeignKeyInfo(
            columns=list(fk["constrained_columns"]),
            ref_table=(
                f"{fk['referred_schema']}.{fk['referred_table']}"
                if fk.get("referred_schema") and fk["referred_schema"] != default_schema
                else fk["referred_table"]
            ),
            ref_columns=list(fk.get("referred_columns") or []),
        )
        for fk in fks
        if fk.get("referred_table")
    ]


def _type_text(sa_type: Any, dialect: sa.Dialect) -> str:
    if isinstance(sa_type, sa.types.NullType):
        return ""
    try:
        return str(sa_type.compile(dialect=dialect))
    except Exception:  # a type the dialect cannot spell: its class name is still informative
        return type(sa_type).__name__.upper()


def _duckdb_catalog(conn: Connection, max_tables: int) -> list[_Raw]:
    """DuckDB's own catalog functions (duckdb-engine's inherited PostgreSQL reflection does not run)."""
    where = "database_name = current_database() AND schema_name = current_schema()"
    relations = conn.exec_driver_sql(
        f"SELECT table_name, comment, false FROM duckdb_tables() WHERE {where} "
        f"UNION ALL SELECT view_name, comment, true FROM duckdb_views() WHERE {where} AND NOT internal "
        "ORDER BY 3, 1"
    ).all()
    raws = {
        name: _Raw(name=name, is_view=is_view, comment=_view_comment(comment) if is_view else comment)
        for name, comment, is_view in relations[:max_tables]
    }
    pks: dict[str, set[str]] = {}
    for table, kind, cols, ref_table, ref_cols in conn.exec_driver_sql(
        "SELECT table_name, constraint_type, constraint_column_names, referenced_table, referenced_column_names "
        f"FROM duckdb_constraints() WHERE {where} AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') "
        "ORDER BY table_name, constraint_index"
    ):
        if table not in raws:
            continue
        if kind == "PRIMARY KEY":
            pks[table] = set(cols)
        elif ref_table:
            raws[table].foreign_keys.append(
                ForeignKeyInfo(columns=list(cols), ref_table=ref_table, ref_columns=list(ref_cols))
            )
    for table, name, data_type, nullable, comment in conn.exec_driver_sql(
        "SELECT table_name, column_name, data_type, is_nullable, comment "
        f"FROM duckdb_columns() WHERE {where} ORDER BY table_name, column_index"
    ):
        if table in raws:
            is_pk = name in pks.get(table, ())
            raws[table].columns.append(
                ColumnInfo(
                    name=name, type=data_type, nullable=bool(nullable) and not is_pk, primary_key=is_pk,
                    comment=comment or None,
                )
            )
    return list(raws.values())


# --- SQLite DDL comments ---------------------------------------------------------------------------------

_IDENT = re.compile(r'\s*(?:"((?:[^"]|"")+)"|`([^`]+)`|\[([^\]]+)\]|([A-Za-z_][\w$]*))')
_CREATE = re.compile(r"^\s*CREATE\s+(?:TEMP\w*\s+)?(?:TABLE|VIEW)\b[^(]*\(", re.IGNORECASE)


def _line_comment(line: str) -> tuple[str, str | None]:
    """Split a DDL line into code and its `--` comment, ignoring `--` inside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif line.startswith("--", i):
            return line[:i], line[i + 2 :].strip() or None
    return line, None


def _last_definition(code: str) -> str:
    """The last non-empty comma-separated definition of a DDL line (commas in parentheses or quotes ignored)."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(code):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"`[":
            quote = "]" if ch == "[" else ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(code[start:i])
            start = i + 1
    parts.append(code[start:])
    return next((part for part in reversed(parts) if part.strip()), "")


def _sqlite_ddl_comments(conn: Connection, raws: list[_Raw]) -> None:
    """Pick up `-- comment`s of SQLite's stored DDL: after a column, for the column; on the CREATE line, the table."""
    by_name = {raw.name: raw for raw in raws}
    try:
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'view')").all()
    except SQLAlchemyError:
        conn.rollback()
        return
    for name, ddl in rows:
        raw = by_name.get(name)
        if raw is None or not ddl or "--" not in ddl:
            continue
        columns = {col.name.lower(): col for col in raw.columns}
        for index, line in enumerate(ddl.splitlines()):
            code, comment = _line_comment(line)
            if comment is None:
                continue
            if index == 0:
                create = _CREATE.match(code)
                if create is None:
                    continue
                code = code[create.end() :]
                if not code.strip():
                    if raw.is_view:
                        raw.comment = _view_comment(comment)
                    else:
                        raw.comment = raw.comment or comment
                    continue
            ident = _IDENT.match(_last_definition(code))
            if ident is None:
                continue
            column = columns.get(next(g for g in ident.groups() if g).replace('""', '"').lower())
            if column is not None and column.comment is None:
                column.comment = comment


# --- row estimates and samples ---------------------------------------------------------------------------


def _catalog_row_estimates(conn: Connection, dialect: str) -> dict[str, int]:
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


def _capped_count(conn: Connection, table: str) -> int | None:
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
    return "text" if _TEXT_TYPES.search(type_text) else "value"


def _add_samples(conn: Connection, raw: _Raw, n: int, max_chars: int) -> None:
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


# --- rendering -------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _preparer(dialect: str | None) -> IdentifierPreparer:
    """The identifier quoting rules of a dialect by name (generic ANSI rules when unknown)."""
    if dialect:
        try:
            return sa.dialects.registry.load(dialect)().identifier_preparer
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
    parts = [_one_line(col.comment)] if col.comment else []
    described = bool(col.comment) and ("e.g." in col.comment or "'" in col.comment or "YYYY" in col.comment)
    if with_samples and col.samples and not described:  # a comment that shows values or a format is enough
        if _NUMERIC_TYPES.search(col.type) and not _TEXT_TYPES.search(col.type):
            values = ", ".join(col.samples)
        else:
            values = ", ".join("'" + value.replace("'", "''") + "'" for value in col.samples)
        parts.append(f"e.g. {values}")
    return "; ".join(parts) or None


def _one_line(text: str) -> str:
    return " ".join(text.split())
