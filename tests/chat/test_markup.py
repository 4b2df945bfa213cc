"""DB-GPT's markup for the REST face: chart-view attributes escaped as DB-GPT's stream sends them, JSON values for
the driver's values, a plain table when markup is off, and markup taken out of history a client sends back."""

from __future__ import annotations

import html
import json
from datetime import date
from decimal import Decimal
from typing import Any

from dbgpt_tools.chat.markup import chart_view, plain_table, render_artifact, render_chart_view, strip_markup
from dbgpt_tools.chat.models import QueryArtifact
from dbgpt_tools.sql.results import QueryResult
from tests.markup import chart_views


def artifact(columns: list[str], rows: list[Any], chart: str = "response_table", describe: str = "") -> QueryArtifact:
    result = QueryResult(
        columns=columns,
        rows=rows,
        row_count=len(rows),
        truncated=False,
        limit_applied=1000,
        elapsed_ms=1.0,
        sql='SELECT name AS "the ""name""", 1 FROM t WHERE x = \'<&>\'',
    )
    return QueryArtifact(result=result, chart_type=chart, describe=describe)


def test_the_attribute_is_escaped_json_that_reads_back_whole() -> None:
    shown = artifact(["name", "n"], [('O\'Brien "quoted" <b>&', 1)], describe="People & counts")
    markup = render_artifact(shown, markup=True)
    assert markup.startswith('\n\n<chart-view content="') and markup.endswith('" />')
    attribute = markup.split('content="', 1)[1].rsplit('"', 1)[0]
    assert '"' not in attribute and "<" not in attribute and "&quot;" in attribute
    [view] = chart_views(markup)
    assert view == {
        "type": "response_table",
        "sql": shown.result.sql,
        "title": "",
        "describe": "People & counts",
        "data": [{"name": 'O\'Brien "quoted" <b>&', "n": 1}],
    }


def test_driver_values_become_json_values_in_the_records() -> None:
    view = chart_view(artifact(["day", "amount", "raw"], [(date(2024, 5, 1), Decimal("12.50"), b"\x01")]))
    assert view.data == [{"day": "2024-05-01", "amount": 12.5, "raw": "01"}]
    assert json.loads(html.unescape(render_chart_view(view).split('"')[1]))["data"] == view.data


def test_without_markup_the_rows_come_as_a_plain_table_of_at_most_twenty_rows() -> None:
    many = artifact(["n", "square"], [(n, n * n) for n in range(25)])
    text = render_artifact(many, markup=False)
    lines = text.strip().splitlines()
    assert lines[:3] == ["n | square", "--- | ---", "0 | 0"] and lines[21] == "19 | 361"
    assert lines[-1] == "... 5 more rows" and "chart-view" not in text
    assert plain_table(artifact(["a"], []).result) == "a\n---"


def test_markup_in_history_is_replaced_by_a_placeholder() -> None:
    markup = render_artifact(artifact(["n"], [(1,)]), markup=True)
    answer = f"```sql\nSELECT 1\n```\n\nThe query returned 1 row: n = 1.{markup}"
    assert strip_markup(answer, "(shown)") == "```sql\nSELECT 1\n```\n\nThe query returned 1 row: n = 1.\n\n(shown)"
    assert strip_markup("no markup here") == "no markup here"
