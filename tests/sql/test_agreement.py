"""Which candidate result to trust: agreement ignores column names and order and how a number is typed; the
largest group wins; simple one-table reads are told apart from the rest."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dbgpt_tools.sql.agreement import is_simple, majority, result_key
from dbgpt_tools.sql.results import QueryResult


def result(columns: list[str], *rows: tuple[Any, ...]) -> QueryResult:
    return QueryResult(
        sql="-", columns=columns, rows=list(rows), row_count=len(rows), truncated=False, limit_applied=100,
        elapsed_ms=0.0,
    )  # fmt: skip


def test_results_agree_whatever_their_column_names_order_and_number_types() -> None:
    first = result(["region", "n"], ("North", 3), ("South", 2.5))
    assert result_key(first) == result_key(result(["n", "name"], (Decimal("2.50"), "South"), (3.0, "North")))
    assert result_key(first) == result_key(result(["a", "b"], ("South", 2.5000000001), ("North", 3)))
    assert result_key(first) != result_key(result(["region", "n"], ("North", 3), ("South", 2.4)))
    assert result_key(first) != result_key(result(["region", "n"], ("North", 3), ("North", 3), ("South", 2.5)))
    assert result_key(first) != result_key(result(["region"], ("North",), ("South",)))


def test_the_largest_group_wins_then_rows_over_none_then_the_earliest() -> None:
    a, b, empty = result(["x"], (1,)), result(["x"], (2,)), result(["x"])
    assert majority([a, b, result(["y"], (2,))]) == (1, 2)
    assert majority([a, None, b]) == (0, 1)  # a tie: the earliest
    assert majority([empty, a]) == (1, 1)  # a tie: rows beat no rows
    assert majority([empty, result(["y"]), a]) == (0, 2)  # two empty results outvote one
    assert majority([None, None]) is None


@pytest.mark.parametrize(
    ("sql", "simple"),
    [
        ("SELECT COUNT(*) FROM customers WHERE country = 'FR'", True),
        ("SELECT name FROM products ORDER BY unit_price DESC LIMIT 3", True),
        ("SELECT country, COUNT(*) FROM customers GROUP BY country", False),
        ("SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.customer_id", False),
        ("SELECT name FROM products WHERE unit_price > (SELECT AVG(unit_price) FROM products)", False),
        ("WITH t AS (SELECT 1 AS x) SELECT x FROM t", False),
        ("SELECT name, RANK() OVER (ORDER BY salary) FROM employees", False),
        ("SELECT a FROM t1, t2", False),
        ("not sql at all (", False),
    ],
)
def test_simple_means_one_table_without_grouping_windows_or_subqueries(sql: str, simple: bool) -> None:
    assert is_simple(sql, "sqlite") is simple
