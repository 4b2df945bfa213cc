"""A database's catalog read into raw tables: names, columns with their types, keys and comments (SQLAlchemy's
inspector, or DuckDB's own catalog functions where duckdb-engine's inspector fails), and the `-- comments` written
in SQLite's DDL."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, ObjectKind
from sqlalchemy.exc import SQLAlchemyError

from dbgpt_tools.errors import Upstream
from dbgpt_tools.sql.schema_models import ColumnInfo, ForeignKeyInfo


@dataclass
class RawTable:
    """A table as the catalog describes it, before samples and row estimates."""

    name: str
    is_view: bool
    comment: str | None = None
    columns: list[ColumnInfo] = field(default_factory=list)
    foreign_keys: list[ForeignKeyInfo] = field(default_factory=list)


def view_comment(comment: str | None) -> str:
    return f"view; {comment}" if comment else "view"


def inspector_catalog(conn: Connection, max_tables: int) -> list[RawTable]:
    """Tables and views through SQLAlchemy's inspector: batched `get_multi_*`, per table if that fails."""
    inspector = sa.inspect(conn)
    tables = sorted(inspector.get_table_names())  # a stable order: the schema text is a cached prompt prefix
    try:
        views = sorted(inspector.get_view_names())
    except (NotImplementedError, SQLAlchemyError):
        conn.rollback()
        views = []
    names = [(name, False) for name in tables] + [(name, True) for name in views if name not in tables]
    raws = [RawTable(name=name, is_view=is_view) for name, is_view in names[:max_tables]]
    if not raws:
        return []
    try:
        _fill_batched(conn, raws)
    except (NotImplementedError, SQLAlchemyError):
        conn.rollback()
        errors = {raw.name: error for raw in raws if (error := _fill_one(conn, raw)) is not None}
        if len(errors) == len(raws):
            name, error = next(iter(errors.items()))
            raise Upstream(f"cannot read the catalog entry of table {name!r}: {error}") from None
        raws = [raw for raw in raws if raw.name not in errors]
    return raws


def _fill_batched(conn: Connection, raws: list[RawTable]) -> None:
    inspector = sa.inspect(conn)
    names = [raw.name for raw in raws]
    kw: dict[str, Any] = {"kind": ObjectKind.ANY, "filter_names": names}
    columns = inspector.get_multi_columns(**kw)
    pks = inspector.get_multi_pk_constraint(**kw)
    fks = inspector.get_multi_foreign_keys(**kw)
    comments: Mapping[Any, Any]
    try:
        comments = inspector.get_multi_table_comment(**kw)
    except NotImplementedError:
        comments = {}
    for raw in raws:
        key = (None, raw.name)
        comment = (comments.get(key) or {}).get("text")
        _fill(conn, raw, columns.get(key, []), pks.get(key) or {}, fks.get(key, []), comment)


def _fill_one(conn: Connection, raw: RawTable) -> str | None:
    """Describe one table by itself; the reason if the catalog refuses it (the table is then left out)."""
    inspector = sa.inspect(conn)
    try:
        columns = inspector.get_columns(raw.name)
        pk: Mapping[str, Any] = inspector.get_pk_constraint(raw.name) if not raw.is_view else {}
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
    raw: RawTable,
    columns: Iterable[Mapping[str, Any]],
    pk: Mapping[str, Any],
    fks: Iterable[Mapping[str, Any]],
    comment: str | None,
) -> None:
    pk_columns = set(pk.get("constrained_columns") or [])
    raw.comment = view_comment(comment) if raw.is_view else comment
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


def duckdb_catalog(conn: Connection, max_tables: int) -> list[RawTable]:
    """DuckDB's own catalog functions (duckdb-engine's inherited PostgreSQL reflection does not run)."""
    where = "database_name = current_database() AND schema_name = current_schema()"
    relations = conn.exec_driver_sql(
        f"SELECT table_name, comment, false FROM duckdb_tables() WHERE {where} "
        f"UNION ALL SELECT view_name, comment, true FROM duckdb_views() WHERE {where} AND NOT internal "
        "ORDER BY 3, 1"
    ).all()
    raws = {
        name: RawTable(name=name, is_view=is_view, comment=view_comment(comment) if is_view else comment)
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
                    name=name,
                    type=data_type,
                    nullable=bool(nullable) and not is_pk,
                    primary_key=is_pk,
                    comment=comment or None,
                )
            )
    return list(raws.values())


# --- SQLite DDL comments: SQLite keeps the CREATE text as written but has no catalog of comments ---------

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


def sqlite_ddl_comments(conn: Connection, raws: list[RawTable]) -> None:
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
                        raw.comment = view_comment(comment)
                    else:
                        raw.comment = raw.comment or comment
                    continue
            ident = _IDENT.match(_last_definition(code))
            if ident is None:
                continue
            column = columns.get(next(g for g in ident.groups() if g).replace('""', '"').lower())
            if column is not None and column.comment is None:
                column.comment = comment
