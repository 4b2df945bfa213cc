"""The result of one SQL statement as every face receives it, and database values as JSON values (what
`json.dumps` accepts, with readable forms for dates, decimals and bytes), converted only when serialised."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field, PlainSerializer

_BYTES_SHOWN = 64
_PLAIN_TYPES = frozenset({int, float, str, bool, type(None)})


def json_value(value: Any) -> Any:
    """A database value as something `json.dumps` accepts."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | dt_time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return data.hex() if len(data) <= _BYTES_SHOWN else f"<{len(data)} bytes>"
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    return str(value)


_FAST: dict[type, Callable[[Any], Any]] = {
    date: date.isoformat,
    datetime: datetime.isoformat,
    dt_time: dt_time.isoformat,
    Decimal: float,
    UUID: str,
    timedelta: timedelta.total_seconds,
}


def _column_converter(types: set[type]) -> Callable[[Any], Any]:
    """One function for a column: the type's own converter when the column holds one kind (and NULLs)."""
    kinds = types - {type(None)}
    fast = _FAST.get(next(iter(kinds))) if len(kinds) == 1 else None
    if fast is None:
        return json_value
    if kinds == types:  # no NULLs in the column
        return fast
    return lambda value: None if value is None else fast(value)


def json_rows(records: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """Rows whose values `json.dumps` accepts. The rows are returned as they are when every value already is
    (one C-level type scan); otherwise the columns holding other types are converted column by column."""
    if not records or set(map(type, itertools.chain.from_iterable(records))) <= _PLAIN_TYPES:
        return list(records)
    columns = list(zip(*records, strict=True))
    for i, column in enumerate(columns):
        types = set(map(type, column))
        if not types <= _PLAIN_TYPES:
            columns[i] = tuple(map(_column_converter(types), column))
    return list(zip(*columns, strict=True))


Rows = Annotated[list[Sequence[Any]], PlainSerializer(json_rows, when_used="json")]
"""Rows holding the database driver's values (dates, decimals, bytes) in Python, and JSON values (ISO dates,
numbers, hex or "<N bytes>") once serialised to JSON, converted only then."""


class QueryResult(BaseModel):
    """Rows of one SQL statement, capped at `limit_applied` rows (`truncated` when more existed)."""

    columns: list[str] = Field(description="Column names in order (a name may repeat).")
    rows: Rows = Field(description="Each row's values, in the order of `columns`.")
    row_count: int = Field(description="Rows returned (after the cap).")
    truncated: bool = Field(description="True when the statement produced more rows than the cap.")
    limit_applied: int = Field(description="The row cap that was in force.")
    elapsed_ms: float
    sql: str = Field(description="The statement as executed (cleaned of fences and trailing semicolons).")
