"""The result of one SQL statement as every face receives it, and database values as JSON values (what
`json.dumps` accepts, with readable forms for dates, decimals and bytes), converted only when serialised."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, PlainSerializer

_BYTES_SHOWN = 64
_PLAIN_TYPES = frozenset({int, float, str, bool, type(None)})


_NOT_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def json_float(value: float) -> float | str:
    """A float as JSON has it: NaN and the infinities, which JSON cannot carry, as the text JavaScript writes."""
    return value if math.isfinite(value) else _NOT_FINITE[str(value)]


def json_value(value: Any) -> Any:
    """A database value as something `json.dumps` accepts."""
    if isinstance(value, float):
        return json_float(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return json_float(float(value))
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
    Decimal: lambda value: json_float(float(value)),
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


def _finite(column: Sequence[Any]) -> bool:
    """Whether a column of plain values holds no NaN or infinity (one C-level sum, values one by one if mixed)."""
    try:
        return math.isfinite(sum(filter(None, column)))
    except TypeError:  # text beside the numbers (SQLite columns may mix them)
        return all(math.isfinite(value) for value in column if isinstance(value, float))


def json_rows(records: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """Rows whose values `json.dumps` accepts (standard JSON: no NaN). The rows are returned as they are when every
    value already is (one C-level type scan); otherwise the columns that need it are converted column by column."""
    if not records:
        return []
    types = set(map(type, itertools.chain.from_iterable(records)))
    if types <= _PLAIN_TYPES and float not in types:
        return list(records)
    columns = list(zip(*records, strict=True))
    changed = False
    for i, column in enumerate(columns):
        kinds = set(map(type, column))
        if not kinds <= _PLAIN_TYPES:
            columns[i] = tuple(map(_column_converter(kinds), column))
            changed = True
        elif float in kinds and not _finite(column):
            columns[i] = tuple(map(json_value, column))
            changed = True
    return list(zip(*columns, strict=True)) if changed else list(records)


Rows = Annotated[list[Sequence[Any]], PlainSerializer(json_rows, when_used="json")]
"""Rows holding the database driver's values (dates, decimals, bytes) in Python, and JSON values (ISO dates,
numbers, hex or "<N bytes>") once serialised to JSON, converted only then."""


class QueryResult(BaseModel):
    """Rows of one SQL statement, at most `limit_applied` rows within the result byte budget (`truncated` when more
    existed; `truncated_reason` says which limit cut them)."""

    columns: list[str] = Field(description="Column names in order (a name may repeat).")
    rows: Rows = Field(description="Each row's values, in the order of `columns`.")
    row_count: int = Field(description="Rows returned (after the cap).")
    truncated: bool = Field(description="True when the statement produced more rows than were returned.")
    truncated_reason: Literal["rows", "bytes"] | None = Field(
        default=None, description="`rows`: the row cap; `bytes`: the result byte budget (None when not truncated)."
    )
    limit_applied: int = Field(description="The row cap that was in force.")
    elapsed_ms: float
    sql: str = Field(description="The statement as executed (cleaned of fences and trailing semicolons).")

    def truncation(self) -> str | None:
        """Why more rows existed than were returned, in words (None when the result is whole)."""
        if not self.truncated:
            return None
        if self.truncated_reason == "bytes":
            return f"cut at {self.row_count} rows by the result size limit"
        return f"truncated at {self.limit_applied} rows"
