"""Which DB-GPT chart suits a query result: a line over time, a pie of a few shares, a scatter of two measures,
else a table. The REST face draws it; the notebook draws the same choice with matplotlib."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from dbgpt_tools.chat.modes.data import LINE, PIE, SCATTER, TABLE, chart_type
from dbgpt_tools.sql.results import QueryResult


def result(columns: list[str], rows: list[Any]) -> QueryResult:
    return QueryResult(
        columns=columns, rows=rows, row_count=len(rows), truncated=False, limit_applied=1000, elapsed_ms=1.0, sql="-"
    )


@pytest.mark.parametrize(
    ("columns", "rows", "expected"),
    [
        (["month", "orders"], [("2024-01", 3), ("2024-02", 5)], LINE),
        (["day", "revenue", "refunds"], [(date(2024, 1, 1), Decimal("10.5"), 1), (date(2024, 1, 2), 7, 0)], LINE),
        (["quarter", "sales"], [("2024-Q1", 1.5), ("2024-Q2", 2.5)], LINE),
        (["channel", "orders"], [("web", 50), ("phone", 30), ("store", 20)], PIE),
        (["price", "sold"], [(1.0, 30), (2.0, 20), (3.0, 10)], SCATTER),
        (["channel", "orders"], [(f"c{i}", i) for i in range(9)], TABLE),  # too many slices for a pie
        (["channel", "delta"], [("web", 5), ("phone", -3)], TABLE),  # a negative share
        (["channel", "orders"], [("web", 5), ("web", 3)], TABLE),  # repeated labels
        (["name", "city"], [("Ada", "Paris"), ("Bob", "Rome")], TABLE),  # no measure
        (["region", "a", "b"], [("north", 1, 2), ("south", 3, 4)], TABLE),  # two measures, not over time
        (["n"], [(1,), (2,)], TABLE),  # one column
        (["month", "orders"], [("2024-01", 3)], TABLE),  # one row
        (["name", "active"], [("Ada", True), ("Bob", False)], TABLE),  # booleans are not measures
    ],
)
def test_chart_type_follows_the_shape_of_the_rows(columns: list[str], rows: list[Any], expected: str) -> None:
    assert chart_type(result(columns, rows)) == expected
