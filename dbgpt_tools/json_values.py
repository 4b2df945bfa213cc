"""Database values as JSON values: what `json.dumps` accepts, with readable forms for dates, decimals and bytes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, time as dt_time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

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


def json_rows(records: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """Rows whose values `json.dumps` accepts. The driver's tuples are kept as they are when every value is
    already JSON (one C-level type scan); otherwise only the columns holding other types are converted."""
    if not records or set(map(type, itertools.chain.from_iterable(records))) <= _PLAIN_TYPES:
        return list(records)
    width = len(records[0])
    convert = [i for i in range(width) if any(type(record[i]) not in _PLAIN_TYPES for record in records)]
    rows: list[Sequence[Any]] = []
    for record in records:
        row = list(record)
        for i in convert:
            row[i] = json_value(row[i])
        rows.append(tuple(row))
    return rows
