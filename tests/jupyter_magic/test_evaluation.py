"""`%dbgpt_eval` in a real IPython shell: a space of three short, clearly different documents searched with top_k 1,
so each row's scores can be worked out by hand; rows from a list or a DataFrame, a stored dataset, an app judged
by the scripted model, the progress bar, the chart and the refusals."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from benchmarks.knowledge_eval.ingest import ingest_all
from dbgpt_tools.evaluation.models import MetricSummary
from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from jupyter_magic import evaluation
from jupyter_magic.evaluation import means_figure
from tests.jupyter_magic.test_magics import outputs, run, sharing
from tests.jupyter_magic.test_magics import shell as shell  # the fixture
from tests.scripted import ScriptedChatModel, StallingModel

matplotlib.use("Agg")  # no window, whatever the machine's default backend

ANIMALS = {
    "cats.txt": "Cats purr when they are content and sleep for most of the day.",
    "dogs.txt": "Dogs bark at strangers and love to fetch sticks in the park.",
    "birds.txt": "Birds build nests of twigs in spring and migrate south in autumn.",
}
ROWS: list[dict[str, Any]] = [
    {"query": "Why do cats purr?", "doc_name": "cats.txt"},  # top 1 is cats.txt: a hit
    {"query": "What do dogs do when strangers come?", "doc_name": "birds.txt"},  # top 1 is dogs.txt: a miss
    {"query": "When do birds build their nests?", "contexts": ["Birds build nests of twigs in spring"]},  # a hit
]
HIT, MRR, RECALL = "RetrieverHitRateMetric", "RetrieverMRRMetric", "RetrieverRecallMetric"
NAMES = ("_dbgpt_eval_df", "scores", "rows", "frame", "n")


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def ip(shell: InteractiveShell) -> Iterator[InteractiveShell]:
    """The test shell with `rows` defined; the variables these tests store are removed afterwards."""
    shell.user_ns["rows"] = [dict(row) for row in ROWS]
    yield shell
    for name in NAMES:
        shell.user_ns.pop(name, None)


@pytest.fixture
def serve(settings: Settings, embedder: LocalEmbedder) -> Iterator[Any]:
    """`serve(*replies)`: the magic's runtime, with the `animals` space (its documents ingested unless `empty`) and a
    model scripted with `replies`."""
    with ExitStack() as stack:

        def start(*replies: str, model: ScriptedChatModel | None = None, empty: bool = False) -> Runtime:
            runtime = Runtime(settings, chat_model=model or ScriptedChatModel.replying(*replies), embedder=embedder)
            stack.callback(runtime.close)
            space = runtime.knowledge.spaces.create({"name": "animals"})
            if not empty:
                ingest_all(runtime.knowledge, space.id, ANIMALS)
            stack.enter_context(sharing(runtime))
            return runtime

        yield start


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """Every chart of the means the magic drew."""
    made: list[Figure] = []

    def recording(*args: Any, **kwargs: Any) -> Figure:
        made.append(means_figure(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(evaluation, "means_figure", recording)
    return made


def bar_texts(ip: InteractiveShell) -> list[str]:
    """The progress bar's texts: its first publication and every update in place."""
    published = outputs(ip)
    display_id = published[0]["transient"]["display_id"]
    return [o["data"]["text/plain"] for o in published if (o.get("transient") or {}).get("display_id") == display_id]


def widths(axes: Axes) -> list[float]:
    """The lengths of a chart's bars."""
    return [patch.get_width() for patch in axes.patches if isinstance(patch, Rectangle)]


def after_bar(ip: InteractiveShell) -> list[dict[str, Any]]:
    """What the cell showed once the rows were evaluated (table, chart, note)."""
    return [o for o in outputs(ip) if "display_id" not in (o.get("transient") or {})]


def test_recall_on_rows_in_a_list_shows_progress_scores_chart_and_run(
    ip: InteractiveShell, serve: Any, figures: list[Figure]
) -> None:
    runtime = serve()
    result = run(ip, f"%dbgpt_eval recall animals rows --top-k 1 --metrics {HIT},{MRR} --out scores")
    assert result.success, result.error_in_exec
    frame = ip.user_ns["scores"]
    assert ip.user_ns["_dbgpt_eval_df"] is frame
    assert list(frame.columns) == ["query", HIT, MRR]
    assert frame["query"].tolist() == [row["query"] for row in ROWS]
    assert frame[HIT].tolist() == frame[MRR].tolist() == [1.0, 0.0, 1.0]  # top 1 only: rank 1 or nothing
    assert [text.rsplit(" ", 2)[-2] for text in bar_texts(ip)] == ["0/3", "1/3", "2/3", "3/3"]  # one step per row
    assert bar_texts(ip)[-1] == f"recall animals {'█' * 24} 3/3 rows"
    table, chart, note = after_bar(ip)
    assert "Why do cats purr?" in table["data"]["text/plain"] and "image/png" in chart["data"]
    (run_,) = runtime.evaluation.runs.list()
    assert note["data"]["text/plain"] == f"evaluation run {run_.id}"  # no model judged these metrics
    assert run_.status == "FINISHED" and run_.context["top_k"] == 1
    (figure,) = figures
    (axes,) = figure.axes
    assert [label.get_text() for label in axes.get_yticklabels()] == [HIT, MRR]
    assert widths(axes) == pytest.approx([2 / 3, 2 / 3])


def test_rows_in_a_dataframe_with_contexts_as_lists_or_strings(ip: InteractiveShell, serve: Any) -> None:
    runtime = serve()
    ip.user_ns["frame"] = pd.DataFrame(
        {
            "query": ["Why do cats purr?", "What do dogs do?", "Where do birds go in autumn?", "What do cats do?"],
            "contexts": [
                ["Cats purr when they are content", "Dogs bark at strangers"],  # two expected: one found at top 1
                '["Dogs bark at strangers"]',  # a JSON list, as a CSV file gives it
                None,  # no contexts: the document is what is expected
                "Cats purr when they are content",  # one context as a string
            ],
            "doc_name": [None, None, "birds.txt", np.nan],
        }
    )
    result = run(ip, f"%dbgpt_eval recall animals frame --top-k 1 --mode keyword --metrics {RECALL},{HIT} --no-chart")
    assert result.success, result.error_in_exec
    frame = ip.user_ns["_dbgpt_eval_df"]
    assert list(frame.columns) == ["query", RECALL, HIT]
    assert frame[RECALL].tolist() == [0.5, 1.0, 1.0, 1.0] and frame[HIT].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert runtime.evaluation.runs.list()[0].context["mode"] == "keyword"
    assert not [o for o in outputs(ip) if "image/png" in o["data"]]  # --no-chart


def test_a_stored_dataset_runs_by_name(ip: InteractiveShell, serve: Any, figures: list[Figure]) -> None:
    runtime = serve()
    runtime.evaluation.datasets.create({"name": "pets", "data": ROWS[:2]})
    assert run(ip, "%dbgpt_eval recall animals pets --top-k 1 --no-chart").success
    frame = ip.user_ns["_dbgpt_eval_df"]
    assert list(frame.columns) == ["query", HIT, MRR]  # the scene's default metrics
    assert frame[HIT].tolist() == [1.0, 0.0]
    assert runtime.evaluation.runs.list()[0].datasets_name == "pets"
    assert figures == [] and "scores" not in ip.user_ns


def test_an_app_is_scored_and_the_judging_model_named(ip: InteractiveShell, serve: Any) -> None:
    runtime = serve("Cats purr when they are content.", "4\nIt answers the question.")
    runtime.apps.create({"app_code": "vet", "app_name": "Vet",
                         "details": [{"resources": [{"type": "knowledge", "value": "animals"}]}]})  # fmt: skip
    ip.user_ns["rows"] = [{"query": "Why do cats purr?", "expected_answer": "when they are content"}]
    metrics = "AnswerRelevancyMetric,AnswerContainsMetric,AnswerExactMatchMetric"
    assert run(ip, f"%dbgpt_eval app vet rows --metrics {metrics}").success
    frame = ip.user_ns["_dbgpt_eval_df"]
    assert frame.iloc[0].tolist() == ["Why do cats purr?", 4.0, 1.0, 0.0]
    note = after_bar(ip)[-1]["data"]["text/plain"]
    run_id = runtime.evaluation.runs.list()[0].id
    assert note == f"evaluation run {run_id}; AnswerRelevancyMetric judged by scripted"


def test_the_chart_shows_each_metrics_mean() -> None:
    aggregate = [MetricSummary(metric_name=name, mean=mean, passing=mean, rows=4) for name, mean in ((HIT, 0.75),
                 (MRR, 0.5))]  # fmt: skip
    (axes,) = means_figure(aggregate, "recall animals").axes
    assert widths(axes) == [0.75, 0.5] and axes.get_title() == "recall animals"
    assert [text.get_text() for text in axes.texts] == ["0.75", "0.5"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("sql animals rows", "argument SCENE: invalid choice: 'sql'"),
        ("recall animals", "the following arguments are required: DATASET"),
        ("recall animals rows --top-k 0", "top_k: Input should be greater than or equal to 1"),
        ("recall animals rows --top-k many", "argument --top-k: invalid int value: 'many'"),
        ("recall animals rows --mode fuzzy", "argument --mode: invalid choice: 'fuzzy'"),
        ("recall animals rows --metrics ,", "argument --metrics: give metric names, comma-separated"),
        ("recall animals rows --out 2x", "'2x' is not a Python variable name"),
        ("recall animals rows --metrics BLEU", "unknown metric 'BLEU'; known: RetrieverHitRateMetric"),
        ("recall animals rows --metrics AnswerRelevancyMetric", "answer metrics need scene_key app"),
        ("recall nowhere rows", "no knowledge space 'nowhere'"),
        ("app nobody rows", "no app 'nobody'"),
        ("app nobody rows --top-k 3", "--top-k and --mode are for recall"),
        ("recall animals missing", "no variable or stored dataset named 'missing'"),
        ("recall animals n", "n must hold a list of rows (dicts) or a DataFrame, not int"),
        ("recall animals frame", "frame holds no rows"),
        ("recall animals bad", "datasets.0.query: Field required"),
    ],
)
def test_refusals_are_short_usage_errors_and_store_nothing(
    ip: InteractiveShell, serve: Any, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    runtime = serve(empty=True)  # every refusal comes before a search
    ip.user_ns.update(n=3, frame=pd.DataFrame({"query": []}), bad=[{"contexts": ["x"]}])
    result = run(ip, f"%dbgpt_eval {line} --out scores")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr().err
    assert "UsageError: " in err and message in err and "Traceback" not in err
    assert "_dbgpt_eval_df" not in ip.user_ns and "scores" not in ip.user_ns and not outputs(ip)
    assert runtime.evaluation.runs.list() == []


@pytest.fixture
def sigint_interrupts() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in the main thread, as in a kernel (see test_magics)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_interrupts")
def test_interrupting_the_cell_cancels_the_run(ip: InteractiveShell, serve: Any) -> None:
    model = StallingModel(messages=iter([]))

    def interrupt_when_answering() -> None:  # what Jupyter's "Interrupt kernel" does
        if model.started.wait(60):
            while not outputs(ip):  # the progress bar is up
                time.sleep(0.01)
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    threading.Thread(target=interrupt_when_answering, daemon=True).start()
    runtime = serve(model=model)
    runtime.apps.create({"app_code": "vet", "app_name": "Vet"})
    result = run(ip, "%dbgpt_eval app vet rows --metrics AnswerContainsMetric")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert model.cancelled.wait(10)  # the app's answer was stopped
    assert bar_texts(ip) == [f"app vet {'░' * 24} 0/3 rows"] and "_dbgpt_eval_df" not in ip.user_ns
    deadline = time.monotonic() + 10  # the run is recorded on the background loop, just after the cancellation
    while runtime.evaluation.runs.list()[0].status == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runtime.evaluation.runs.list()[0].status == "CANCELLED"
