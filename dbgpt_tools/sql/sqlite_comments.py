"""Comments written in SQLite DDL (`-- ...` after a column or table definition), read back from `sqlite_master`:
SQLite keeps the CREATE text as written but has no catalog of comments."""

from __future__ import annotations

import re

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from dbgpt_tools.sql.catalog import RawTable, view_comment

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
