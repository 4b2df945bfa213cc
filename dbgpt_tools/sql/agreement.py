"""Which of several candidate queries to trust: the result most of them agree on, and whether a query is simple
enough to trust alone."""

from __future__ import annotations

import datetime as dt
import decimal
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from dbgpt_tools.sql.results import QueryResult
from dbgpt_tools.sql.safety import SUPPORTED_DIALECTS

_SIGNIFICANT = 6  # floats agree when equal to this many significant digits (SUM vs. a CTE's SUM)


def _value_key(value: Any) -> Hashable:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | decimal.Decimal):
        return f"{float(value):.{_SIGNIFICANT}g}"  # 3, 3.0 and Decimal('3.00') alike
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def result_key(result: QueryResult) -> Hashable:
    """What two results share when they say the same thing: their rows as a multiset, each row as the multiset of
    its values (column names and order ignored, numbers compared as floats to 6 significant digits)."""
    rows = Counter(tuple(sorted((_value_key(v) for v in row), key=repr)) for row in result.rows)
    return frozenset(rows.items())


def majority(results: Sequence[QueryResult | None]) -> tuple[int, int] | None:
    """(index of the chosen result, how many results agree with it) among `results` (None: a candidate that
    failed), or None when none succeeded. The largest group wins; on a tie, a group with rows beats an empty one,
    then the group of the earliest candidate."""
    groups: dict[Hashable, list[int]] = {}
    for index, result in enumerate(results):
        if result is not None:
            groups.setdefault(result_key(result), []).append(index)
    if not groups:
        return None

    def strength(members: list[int]) -> tuple[int, bool, int]:
        result = results[members[0]]
        return len(members), result is not None and result.row_count > 0, -members[0]

    best = max(groups.values(), key=strength)
    return best[0], len(best)


def is_simple(sql: str, db_type: str) -> bool:
    """Whether a query reads one table without grouping, windows or subqueries (a question a small model gets
    right at once, so checking it against more candidates would only add latency)."""
    try:
        tree = sqlglot.parse_one(sql, read=SUPPORTED_DIALECTS.get(db_type))
    except SqlglotError:
        return False
    if tree is None:
        return False
    complex_parts = (exp.Join, exp.Subquery, exp.Group, exp.Window, exp.With, exp.Union, exp.Having)
    if any(tree.find(kind) for kind in complex_parts):
        return False
    selects = list(tree.find_all(exp.Select))
    return len(selects) == 1 and len(list(tree.find_all(exp.Table))) <= 1
