"""`%dbgpt_eval recall SPACE DATASET` / `%dbgpt_eval app CODE DATASET`: score a space's retrieval or an app's
answers on a dataset (a notebook variable holding rows, else a stored dataset's name), with a progress bar per row,
then one line of scores per row (a DataFrame), a bar chart of each metric's mean and the run's id."""

from __future__ import annotations

import asyncio
import json
import queue
from argparse import ArgumentTypeError, Namespace
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display
from matplotlib.figure import Figure

from dbgpt_tools.aio import background_loop, shared_runtime
from dbgpt_tools.errors import InvalidInput, NotFound, validated
from dbgpt_tools.evaluation.models import EvaluationReport, EvaluationRequest, MetricSummary
from dbgpt_tools.knowledge.models import SearchMode
from jupyter_magic.data import Note, png
from jupyter_magic.ingest import bar
from jupyter_magic.options import variable_name

F = TypeVar("F", bound=Callable[..., object])
_LISTS = ("contexts", "chunk_ids")


def _metric_names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise ArgumentTypeError("give metric names, comma-separated")
    return names


EVAL_OPTIONS = (
    argument("scene", metavar="SCENE", choices=["recall", "app"], help="recall (a space's retrieval) or app."),
    argument("target", metavar="TARGET", help="The knowledge space (recall) or the app code (app)."),
    argument("dataset", metavar="DATASET", help="A variable holding the rows (dicts, DataFrame), or a stored dataset."),
    argument("--metrics", metavar="M1,M2", type=_metric_names, help="Metric names (default: the scene's)."),
    argument("--top-k", type=int, metavar="N", help="Chunks retrieved per question (recall; default 5)."),
    argument("--mode", choices=[mode.value for mode in SearchMode], help="How chunks are found (recall)."),
    argument("--out", metavar="VAR", type=variable_name, help="Also store the scores (a DataFrame) in VAR."),
    argument("--no-chart", action="store_true", help="Do not draw the chart of the metrics' means."),
)


def eval_options(magic: F) -> F:
    """Declare the `%dbgpt_eval` arguments on a magic (for `parse_argstring` and the magic's `?` help)."""
    for option in reversed(EVAL_OPTIONS):
        magic = option(magic)
    declared: F = magic_arguments()(magic)
    return declared


def _value(key: str, value: Any) -> Any:
    """A cell's value as the core reads it: numpy values as Python ones, a JSON list in a list column parsed."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if key in _LISTS and isinstance(value, str) and value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # one context that happens to start with a bracket
    return value


def _row(row: Mapping[Hashable, Any]) -> dict[str, Any]:
    """A dataset row, its missing values (None, NaN) left out."""
    return {
        str(key): _value(str(key), value)
        for key, value in row.items()
        if not (value is None or (pd.api.types.is_scalar(value) and pd.isna(value)))
    }


def dataset_rows(name: str, namespace: Mapping[str, Any]) -> list[Any] | None:
    """The rows the notebook variable `name` holds (None when there is no such variable: a stored dataset)."""
    if name not in namespace:
        return None
    value = namespace[name]
    if isinstance(value, pd.DataFrame):
        rows: list[Any] = [_row(record) for record in value.to_dict(orient="records")]
    elif isinstance(value, list | tuple):
        rows = [_row(row) if isinstance(row, Mapping) else row for row in value]
    else:
        raise InvalidInput(f"{name} must hold a list of rows (dicts) or a DataFrame, not {type(value).__name__}")
    if not rows:
        raise InvalidInput(f"{name} holds no rows")
    return rows


def eval_request(options: Namespace, namespace: Mapping[str, Any]) -> EvaluationRequest:
    """The core request for the magic's arguments; bad values raise `InvalidInput`."""
    context = {key: value for key, value in (("top_k", options.top_k), ("mode", options.mode)) if value is not None}
    if context and options.scene == "app":
        raise InvalidInput("--top-k and --mode are for recall: an app retrieves as it is configured")
    body: dict[str, Any] = {
        "scene_key": options.scene,
        "scene_value": options.target,
        "context": context,
        "evaluate_metrics": options.metrics,
    }
    rows = dataset_rows(options.dataset, namespace)
    body |= {"datasets": rows} if rows is not None else {"datasets_name": options.dataset}
    return validated(EvaluationRequest, body)


class RowsBar:
    """A progress bar of the rows evaluated, shown at the first step and updated in place."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._handle: Any = None

    def show(self, done: int, total: int) -> None:
        line = f"{self.label} {bar(done, total)} {done}/{total} rows"
        note = Note(f"`{line}`", line)
        if self._handle is None:
            self._handle = display(note, display_id=True)
        else:
            self._handle.update(note)


def run_evaluation(request: EvaluationRequest) -> EvaluationReport:
    """Run the evaluation on the background loop with a progress bar; interrupting the cell cancels the run."""
    steps: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()

    async def told(done: int, total: int) -> None:
        steps.put((done, total))

    run = shared_runtime().evaluation.run(request, told)
    future = asyncio.run_coroutine_threadsafe(run, background_loop())
    future.add_done_callback(lambda _: steps.put(None))
    rows_bar = RowsBar(f"{request.scene_key} {request.scene_value}")
    try:
        while (step := steps.get()) is not None:
            rows_bar.show(*step)
        return future.result()
    except NotFound as error:
        if request.datasets_name is not None and error.field == "datasets_name":
            raise NotFound(f"no variable or stored dataset named {request.datasets_name!r}") from None
        raise
    finally:
        future.cancel()  # a no-op once the run is over


def report_frame(report: EvaluationReport) -> pd.DataFrame:
    """One line per dataset row: its query, then each metric's score."""
    names = [summary.metric_name for summary in report.aggregate]
    lines = [{"query": results[0].query, **{r.metric_name: r.score for r in results}} for results in report.rows]
    return pd.DataFrame(lines, columns=["query", *names])


def means_figure(aggregate: list[MetricSummary], title: str = "") -> Figure:
    """A bar chart of each metric's mean score."""
    figure = Figure(figsize=(7, 0.6 * len(aggregate) + 1.4), layout="constrained")
    axes = figure.subplots()
    bars = axes.barh([s.metric_name for s in aggregate], [s.mean for s in aggregate])
    axes.bar_label(bars, fmt="%.3g", padding=3)
    axes.invert_yaxis()  # the first metric on top, as in the table
    axes.set_xlabel("mean score")
    axes.margins(x=0.15)
    if title:
        axes.set_title(title)
    return figure


def run_note(report: EvaluationReport) -> str:
    """The run's id and, for metrics a model judged, which model."""
    judges: dict[str, list[str]] = {}
    for summary in report.aggregate:
        if summary.judged_by is not None:
            judges.setdefault(summary.judged_by, []).append(summary.metric_name)
    judged = "".join(f"; {', '.join(names)} judged by {model}" for model, names in judges.items())
    return f"evaluation run {report.run_id}{judged}"


def show_report(report: EvaluationReport, title: str, *, chart: bool = True) -> pd.DataFrame:
    """Show the scores per row, the chart of the means and the run's note; return the scores as a DataFrame."""
    frame = report_frame(report)
    display(frame)
    if chart:
        display(png(means_figure(report.aggregate, title)))
    note = run_note(report)
    display(Note(f"*{note}*", note))
    return frame


def evaluate(options: Namespace, namespace: Mapping[str, Any]) -> pd.DataFrame:
    """Run `%dbgpt_eval` and show its results (refusals raise `DbgptError`); the scores as a DataFrame."""
    request = eval_request(options, namespace)
    report = run_evaluation(request)
    return show_report(report, f"{request.scene_key} {request.scene_value}", chart=not options.no_chart)
