"""Which of DB-GPT's chart types suits a query result (dbgpt/vis/tags/vis_chart.py names), from its shape."""

from __future__ import annotations

import re
from typing import Any

from dbgpt_tools.sql.json_values import json_rows
from dbgpt_tools.sql.results import QueryResult

TABLE, LINE, PIE, SCATTER = "response_table", "response_line_chart", "response_pie_chart", "response_scatter_chart"
_TIME_LIKE = re.compile(r"^\d{4}(-\d{2}){0,2}([ T]\d{2}:\d{2}(:\d{2})?)?$|^\d{4}-Q[1-4]$|^\d{4}-W\d{2}$")
_PIE_MAX_SLICES = 8


def _numeric(values: list[Any]) -> bool:
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def chart_type(result: QueryResult) -> str:
    """The chart that suits a result: a line for measures over time, a pie for a few shares of a whole, a
    scatter for two measures, else a table."""
    if result.row_count < 2 or len(result.columns) < 2:
        return TABLE
    rows = json_rows(result.rows)  # dates as ISO text, decimals as numbers
    first = [row[0] for row in rows]
    measures = [[row[i] for row in rows] for i in range(1, len(result.columns))]
    if not all(_numeric(values) for values in measures):
        return TABLE
    if all(isinstance(v, str) and _TIME_LIKE.match(v) for v in first):
        return LINE
    if len(measures) != 1:
        return TABLE
    if _numeric(first):
        return SCATTER
    shares = measures[0]
    if result.row_count <= _PIE_MAX_SLICES and all(v >= 0 for v in shares) and len(set(first)) == len(first):
        return PIE
    return TABLE
