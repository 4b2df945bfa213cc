"""Rows in a cell: chat_data answers (chart-view markup hidden while streaming, then SQL, table and chart) and
`--sql` cells (the cell's SQL run directly, `{var}` bound as parameters)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from typing import Any

import pandas as pd
from IPython.display import Image, Markdown, display
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dbgpt_tools.aio import run_sync, shared_runtime
from dbgpt_tools.chat.chart_view import (
    LINE,
    PIE,
    SCATTER,
    ChartView,
    parse_chart_views,
    strip_chart_views,
)
from dbgpt_tools.sql.results import QueryResult
from jupyter_magic.binding import bind_parameters

_OPEN = "<chart-view"
_MAX_TICKS = 12


def visible_text(text: str) -> str:
    """What of a (possibly partial) answer can be shown: chart-view markup removed, an unfinished one (or what
    may become one) held back, and trailing whitespace trimmed, so the shown text only ever grows."""
    shown = strip_chart_views(text)
    start = shown.find(_OPEN)  # complete views are gone: this one is still arriving
    if start < 0:
        tail = shown.rfind("<")
        start = tail if tail >= 0 and _OPEN.startswith(shown[tail:]) else len(shown)
    return shown[:start].rstrip()


class ShownText:
    """Feeds an answer's pieces through `visible_text`: `feed` returns what became visible."""

    def __init__(self) -> None:
        self.text = ""
        self.shown = ""

    def feed(self, piece: str) -> str:
        self.text += piece
        visible = visible_text(self.text)
        if not visible.startswith(self.shown):  # never happens for well-formed markup; show nothing twice
            return ""
        delta, self.shown = visible[len(self.shown) :], visible
        return delta


class Note(Markdown):
    """Markdown with its own plain-text form (for consoles and text exports)."""

    def __init__(self, markdown: str, plain: str) -> None:
        super().__init__(markdown)
        self.plain = plain

    def __repr__(self) -> str:
        return self.plain


def sql_note(sql: str) -> Note:
    return Note(f"```sql\n{sql}\n```", sql)


def result_frame(result: QueryResult) -> pd.DataFrame:
    return pd.DataFrame(result.rows, columns=result.columns)


def view_frame(view: ChartView) -> pd.DataFrame:
    return pd.DataFrame.from_records(view.data)


def chart_figure(chart_type: str, frame: pd.DataFrame, title: str = "") -> Figure | None:
    """A matplotlib figure of the rows for DB-GPT's chart type (None for a table or too few columns).

    Line: x is the first column, one line per other column; pie: labels then values; scatter: x then y.
    """
    if chart_type not in (LINE, PIE, SCATTER) or frame.empty or frame.shape[1] < 2:
        return None
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    first, others = frame.columns[0], list(frame.columns[1:])
    if chart_type == LINE:
        x = frame[first].astype(str)
        for column in others:
            axes.plot(x, pd.to_numeric(frame[column], errors="coerce"), marker="o" if len(x) <= 24 else "", label=column)
        axes.xaxis.set_major_locator(MaxNLocator(_MAX_TICKS))
        axes.tick_params(axis="x", labelrotation=45)
        axes.set_xlabel(str(first))
        if len(others) > 1:
            axes.legend()
        else:
            axes.set_ylabel(str(others[0]))
    elif chart_type == PIE:
        axes.pie(pd.to_numeric(frame[others[0]], errors="coerce"), labels=frame[first].astype(str), autopct="%1.0f%%")
        axes.set_aspect("equal")
    else:
        axes.scatter(frame[first], frame[others[0]])
        axes.set_xlabel(str(first))
        axes.set_ylabel(str(others[0]))
    if title:
        axes.set_title(title)
    return figure


def png(figure: Figure) -> Image:
    """The figure as a PNG image (shown by every front end, whatever matplotlib backend is active)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return Image(data=buffer.getvalue(), format="png")


def show_views(answer: str, *, chart: bool = True) -> pd.DataFrame | None:
    """Show each chart-view's SQL, rows and chart; return the last one's rows (None when no query ran)."""
    frame = None
    for view in parse_chart_views(answer):
        frame = view_frame(view)
        display(sql_note(view.sql))
        display(frame)
        figure = chart_figure(view.type, frame, view.title) if chart else None
        if figure is not None:
            display(png(figure))
    return frame


def run_cell_sql(datasource: str, cell: str, namespace: Mapping[str, Any], limit: int | None) -> QueryResult:
    """Run the cell's SQL with its `{var}` placeholders bound, in a worker thread of the background loop."""
    sql, params = bind_parameters(cell.strip(), namespace)
    datasources = shared_runtime().datasources
    return run_sync(asyncio.to_thread(datasources.run_sql, datasource, sql, limit, params))


def show_result(result: QueryResult) -> pd.DataFrame:
    """Show the rows (and a note when the row cap cut them off); return them as a DataFrame."""
    frame = result_frame(result)
    display(frame)
    if result.truncated:
        note = f"showing {result.row_count} rows (truncated at {result.limit_applied})"
        display(Note(f"*{note}*", note))
    return frame
