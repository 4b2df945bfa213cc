"""Rows in a cell: a chat_data answer's query artifact (SQL, DataFrame, chart) and `--sql` cells (the cell's SQL
run directly, `{var}` bound as parameters)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pandas as pd
from IPython.display import Image, Markdown, display
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dbgpt_tools.aio import run_sync, shared_runtime
from dbgpt_tools.chat.models import QueryArtifact
from dbgpt_tools.chat.modes.data import LINE, PIE, SCATTER
from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.sql.examples import Example, ExampleIn
from dbgpt_tools.sql.fences import fenced_blocks, strip_sql
from dbgpt_tools.sql.results import QueryResult
from jupyter_magic.binding import bind_parameters

_MAX_TICKS = 12


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
    """The rows as a DataFrame: the driver's values (dates, decimals) kept, repeated column names too."""
    return pd.DataFrame(list(result.rows), columns=result.columns)


def chart_figure(chart_type: str, frame: pd.DataFrame, title: str = "") -> Figure | None:
    """A matplotlib figure of the rows for DB-GPT's chart type (None for a table or too few columns).

    Line: x is the first column, one line per other column; pie: labels then values; scatter: x then y.
    """
    if chart_type not in (LINE, PIE, SCATTER) or frame.empty or frame.shape[1] < 2:
        return None
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    first, others = frame.iloc[:, 0], [frame.iloc[:, i] for i in range(1, frame.shape[1])]
    if chart_type == LINE:
        x = first.astype(str)
        for column in others:
            axes.plot(x, pd.to_numeric(column, errors="coerce"), marker="o" if len(x) <= 24 else "", label=column.name)
        axes.xaxis.set_major_locator(MaxNLocator(_MAX_TICKS))
        axes.tick_params(axis="x", labelrotation=45)
        axes.set_xlabel(str(first.name))
        if len(others) > 1:
            axes.legend()
        else:
            axes.set_ylabel(str(others[0].name))
    elif chart_type == PIE:
        axes.pie(pd.to_numeric(others[0], errors="coerce"), labels=list(first.astype(str)), autopct="%1.0f%%")
        axes.set_aspect("equal")
    else:
        axes.scatter(pd.to_numeric(first, errors="coerce"), pd.to_numeric(others[0], errors="coerce"))
        axes.set_xlabel(str(first.name))
        axes.set_ylabel(str(others[0].name))
    if title:
        axes.set_title(title)
    return figure


def png(figure: Figure) -> Image:
    """The figure as a PNG image (shown by every front end, whatever matplotlib backend is active)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return Image(data=buffer.getvalue(), format="png")


def show_artifact(artifact: QueryArtifact, *, chart: bool = True) -> pd.DataFrame:
    """Show a query artifact's SQL, rows and chart; return the rows as a DataFrame."""
    frame = result_frame(artifact.result)
    display(sql_note(artifact.result.sql))
    display(frame)
    figure = chart_figure(artifact.chart_type, frame) if chart else None
    if figure is not None:
        display(png(figure))
    return frame


def run_cell_sql(datasource: str, cell: str, namespace: Mapping[str, Any], limit: int | None) -> QueryResult:
    """Run the cell's SQL with its `{var}` placeholders bound, on the statement threads (from the background loop)."""
    sql, params = bind_parameters(cell.strip(), namespace)
    return run_sync(shared_runtime().sql.arun_sql(datasource, sql, limit, params))


def teach(datasource: str, cell: str) -> Example:
    """Store the cell's pair (first line: the question; the rest: its SQL) for the datasource."""
    question, _, rest = cell.strip().partition("\n")
    blocks = fenced_blocks(rest)
    sql = strip_sql(blocks[0] if blocks else rest)
    if not question.strip() or not sql.strip():
        raise InvalidInput("--teach: write the question on the first line and its SQL below it")
    return run_sync(shared_runtime().examples.add(datasource, ExampleIn(question=question.strip(), sql=sql)))


def show_taught(example: Example) -> None:
    """A note saying what was learnt."""
    plain = f"{example.datasource} learnt example {example.id}: {example.question}"
    display(Note(f"*{plain}*", plain))


def show_result(result: QueryResult) -> pd.DataFrame:
    """Show the rows (and a note when a limit cut them off); return them as a DataFrame."""
    frame = result_frame(result)
    display(frame)
    cut = result.truncation()
    if cut:
        note = f"showing {result.row_count} rows ({cut})"
        display(Note(f"*{note}*", note))
    return frame
