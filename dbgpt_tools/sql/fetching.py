"""Reading a statement's rows within a row cap and a byte budget, a batch at a time, so neither a long result nor
wide values fill the memory: what does not fit is left unread, and the result says which limit cut it."""

from __future__ import annotations

import datetime
import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

BATCH_ROWS = 512
_NUMBER_BYTES = 8
_SMALL = frozenset({int, float, bool, type(None)})
_BOUNDED_BYTES = 40  # at most, rendered: a UUID (36), "2024-01-31T23:59:59.999999+05:30" (32), a timedelta
_BOUNDED = _SMALL | {datetime.date, datetime.datetime, datetime.time, datetime.timedelta, uuid.UUID}
_SIZED = (str, bytes, bytearray, memoryview)

Truncation = Literal["rows", "bytes"]


def value_bytes(value: Any) -> int:
    """About how many bytes a value takes once rendered (text and blobs by length, containers by their items)."""
    if isinstance(value, _SIZED):
        return len(value)
    if isinstance(value, dict):
        return sum(value_bytes(key) + value_bytes(item) for key, item in value.items()) + 2
    if isinstance(value, list | tuple):
        return sum(map(value_bytes, value)) + len(value)
    if type(value) in _SMALL:
        return _NUMBER_BYTES
    return _BOUNDED_BYTES if type(value) in _BOUNDED else len(str(value))


def rows_bytes(rows: Sequence[Sequence[Any]]) -> int:
    """`value_bytes` of every value; a column of numbers only is counted without looking at each value."""
    if not rows:
        return 0
    total = 0
    for column in zip(*rows, strict=True):
        types = set(map(type, column))
        if types <= _SMALL:
            total += _NUMBER_BYTES * len(column)
        elif types <= _BOUNDED:
            total += _BOUNDED_BYTES * len(column)
        elif types <= {str, type(None)}:
            total += sum(map(len, filter(None, column)))
        else:
            total += sum(map(value_bytes, column))
    return total


@dataclass(frozen=True)
class Fetched:
    """Rows read, and which limit cut the result (None: the whole result was read)."""

    rows: list[Sequence[Any]]
    truncated: Truncation | None


def fetch_bounded(fetchmany: Callable[[int], Sequence[Sequence[Any]]], cap: int, budget: int) -> Fetched:
    """At most `cap` rows and `budget` bytes of a result, read in batches with `fetchmany`.

    A batch that would pass the budget is cut at the last row that fits; a row alone bigger than the budget is
    not returned.
    """
    rows: list[Sequence[Any]] = []
    used = 0
    while True:
        batch = fetchmany(min(BATCH_ROWS, cap + 1 - len(rows)))
        if not batch:
            return Fetched(rows, None)
        size = rows_bytes(batch)
        if used + size > budget:
            fitting = list(itertools.takewhile(_Within(budget - used), batch))
            rows.extend(fitting[: cap - len(rows)])
            return Fetched(rows, "bytes")
        rows.extend(batch)
        used += size
        if len(rows) > cap:
            return Fetched(rows[:cap], "rows")


class _Within:
    """True for rows while their sizes add up to at most `room` bytes."""

    def __init__(self, room: int) -> None:
        self._room = room

    def __call__(self, row: Sequence[Any]) -> bool:
        self._room -= sum(map(value_bytes, row))
        return self._room >= 0
