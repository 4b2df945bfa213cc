"""DB-GPT's `<chart-view content="..." />` markup: choosing a chart type from a result's shape, rendering, parsing.

The attribute is HTML-escaped JSON (`html.escape(json.dumps(...), quote=True)`) in streamed and whole answers
alike, so one parser reads both. Chart types are DB-GPT's names (dbgpt/vis/tags/vis_chart.py).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from pydantic import BaseModel

from dbgpt_tools.sql.json_values import json_rows
from dbgpt_tools.sql.results import QueryResult

TABLE, LINE, PIE, SCATTER = "response_table", "response_line_chart", "response_pie_chart", "response_scatter_chart"
_MARKUP = re.compile(r'<chart-view content="([^"]*)"\s*/>')
_TIME_LIKE = re.compile(r"^\d{4}(-\d{2}){0,2}([ T]\d{2}:\d{2}(:\d{2})?)?$|^\d{4}-Q[1-4]$|^\d{4}-W\d{2}$")
_PIE_MAX_SLICES = 8


class ChartView(BaseModel):
    """What one chart-view carries: the chart type, the SQL, and the rows as records."""

    type: str
    sql: str
    title: str = ""
    describe: str = ""
    data: list[dict[str, Any]]


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


def chart_view(result: QueryResult, *, title: str = "", describe: str = "") -> ChartView:
    """The chart-view of a query result."""
    records = [dict(zip(result.columns, row, strict=True)) for row in json_rows(result.rows)]
    return ChartView(type=chart_type(result), sql=result.sql, title=title, describe=describe, data=records)


def render_chart_view(view: ChartView) -> str:
    """The markup, with the JSON attribute HTML-escaped as DB-GPT's stream sends it."""
    payload = json.dumps(view.model_dump(), ensure_ascii=False, default=str)
    return f'<chart-view content="{html.escape(payload, quote=True)}" />'


def parse_chart_views(text: str) -> list[ChartView]:
    """Every chart-view in an answer's text."""
    return [ChartView.model_validate_json(html.unescape(match)) for match in _MARKUP.findall(text)]


def strip_chart_views(text: str, placeholder: str = "") -> str:
    """The answer's text without its chart-view markup."""
    return _MARKUP.sub(placeholder, text)
