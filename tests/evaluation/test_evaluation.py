"""Evaluation: metrics worked out by hand, DB-GPT's evaluation route and its result shape, an app judged by the
model, the benchmark's figures reproduced through the API, stored datasets and runs (progress, cancel, compare),
and the refusals."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from benchmarks.knowledge_eval.dataset import load_documents, load_questions
from benchmarks.knowledge_eval.ingest import ingest_all
from benchmarks.retrieval_eval import Judge, first_hit_rank, scores, targets
from dbgpt_tools.evaluation.metrics import METRICS, Judges, Sample
from dbgpt_tools.evaluation.models import DatasetRow, EvaluationRequest
from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.knowledge.models import RetrievedChunk
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.envelope import data
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": "Bearer test-key"}
EVALUATE = "/api/v2/serve/evaluate"
ANIMALS = {
    "cats.txt": "Cats purr when they are content and sleep for most of the day.",
    "dogs.txt": "Dogs bark at strangers and love to fetch sticks in the park.",
    "birds.txt": "Birds build nests of twigs in spring and migrate south in autumn.",
}


def chunk(doc: str, text: str, index: int = 0) -> RetrievedChunk:
    return RetrievedChunk(chunk_id=f"{doc}-{index}", doc_id=1, doc_name=doc, doc_type="txt", content=text, score=0.5,
                          rank_score=0.5, index=index, page=None, headers=[], start=0, end=len(text))  # fmt: skip


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel.replying()


@pytest.fixture
def runtime(settings: Settings, model: ScriptedChatModel, embedder: LocalEmbedder) -> Iterator[Runtime]:
    rt = Runtime(settings, chat_model=model, embedder=embedder)
    space = rt.knowledge.spaces.create({"name": "animals"})
    ingest_all(rt.knowledge, space.id, ANIMALS)
    yield rt
    rt.close()


async def test_retrieval_metrics_equal_the_values_worked_out_by_hand(runtime: Runtime) -> None:
    cats, dogs, birds = (chunk(name, text) for name, text in ANIMALS.items())
    passage = "Dogs bark at strangers"  # shorter than 40 characters: all of it must be in the chunk
    rows = [  # (row, the ranked chunks the retriever gave)
        (DatasetRow(query="q1", doc_name="cats.txt"), [cats, dogs, birds]),  # relevant at rank 1
        (DatasetRow(query="q2", contexts=[passage]), [cats, dogs, birds]),  # rank 2, matched by text
        (DatasetRow(query="q3", chunk_ids=["birds.txt-0", "fish.txt-0"]), [cats, dogs, birds]),  # rank 3, 1 of 2
        (DatasetRow(query="q4", doc_name="fish.txt"), [cats, dogs, birds]),  # nothing relevant
    ]
    judges = Judges(runtime.knowledge.embedder, runtime.llm, None)

    async def mean(name: str) -> float:
        values = [(await METRICS[name].compute(Sample(row, found, None), judges)).value for row, found in rows]
        return sum(values) / len(values)

    assert await mean("RetrieverHitRateMetric") == 3 / 4
    assert await mean("RetrieverMRRMetric") == pytest.approx((1 + 1 / 2 + 1 / 3 + 0) / 4)
    assert await mean("RetrieverRecallMetric") == pytest.approx((1 + 1 + 1 / 2 + 0) / 4)
    ndcg_q3 = (1 / math.log2(4)) / (1 / math.log2(2) + 1 / math.log2(3))  # one of two expected chunks, at rank 3
    assert await mean("RetrieverNDCGMetric") == pytest.approx((1 + 1 / math.log2(3) + ndcg_q3 + 0) / 4)
    cut = DatasetRow(query="q", contexts=["x" * 30 + " Cats purr when they are content and sleep"])  # 41 chars held
    assert (await METRICS["RetrieverHitRateMetric"].compute(Sample(cut, [cats], None), judges)).value == 1.0
    short = DatasetRow(query="q", contexts=["y" * 30 + " Cats purr when"])  # only 15 characters held: not enough
    assert (await METRICS["RetrieverHitRateMetric"].compute(Sample(short, [cats], None), judges)).value == 0.0


async def test_dbgpt_evaluation_route_scores_a_spaces_retrieval(api: httpx.AsyncClient) -> None:
    datasets = [
        {"query": "Why do cats purr?", "doc_name": "cats.txt"},
        {"query": "What do dogs do when strangers come?", "doc_name": "birds.txt"},  # expects the wrong document
        {"query": "When do birds build their nests?", "contexts": ["Birds build nests of twigs in spring"]},
        {"query": "Do fish sleep?", "doc_name": "fish.txt"},  # no such document
    ]
    body = {"scene_key": "recall", "scene_value": "animals", "context": {"top_k": 1}, "datasets": datasets,
            "evaluate_metrics": ["RetrieverHitRateMetric", "RetrieverMRRMetric"]}  # fmt: skip
    response = (await api.post(f"{EVALUATE}/evaluation", json=body)).json()
    rows = response["data"]
    assert len(rows) == 4 and all(len(row) == 2 for row in rows)  # one list per row, one object per metric
    first = rows[0][0]
    assert set(first) == {"query", "prediction", "contexts", "score", "passing", "metric_name", "prediction_cost",
                          "raw_dataset", "feedback"}  # fmt: skip
    assert first["metric_name"] == "RetrieverHitRateMetric" and first["prediction"] == [ANIMALS["cats.txt"]]
    assert [row[0]["score"] for row in rows] == [1.0, 0.0, 1.0, 0.0]  # top 1 of each, checked by hand
    assert {a["metric_name"]: a["mean"] for a in response["aggregate"]} == {
        "RetrieverHitRateMetric": 0.5,
        "RetrieverMRRMetric": 0.5,
    }
    run = data(await api.get(f"{EVALUATE}/runs/{response['run_id']}"))
    assert run["status"] == "FINISHED" and run["done"] == run["total"] == 4 and len(run["rows"]) == 4


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"scene_key": "recall", "scene_value": "nowhere", "datasets": [{"query": "q"}]}, 404, "no knowledge space"),
        ({"scene_key": "app", "scene_value": "nobody", "datasets": [{"query": "q"}]}, 404, "no app 'nobody'"),
        ({"scene_key": "recall", "scene_value": "animals", "datasets": [{"query": "q"}],
          "evaluate_metrics": ["BLEU"]}, 400, "unknown metric 'BLEU'; known: RetrieverHitRateMetric"),
        ({"scene_key": "recall", "scene_value": "animals", "datasets": []}, 400, "the dataset is empty"),
        ({"scene_key": "recall", "scene_value": "animals"}, 400, "the dataset is empty"),
        ({"scene_key": "recall", "scene_value": "animals", "datasets": [{"query": "q"}],
          "evaluate_metrics": ["AnswerRelevancyMetric"]}, 400, "answer metrics need scene_key app"),
        ({"scene_key": "recall", "scene_value": "animals", "datasets_name": "missing"}, 404, "no dataset 'missing'"),
        ({"scene_key": "sql", "scene_value": "animals", "datasets": [{"query": "q"}]}, 400, "scene_key"),
    ],
)  # fmt: skip
async def test_refusals_name_the_problem(
    api: httpx.AsyncClient, body: dict[str, Any], status: int, message: str
) -> None:
    response = await api.post(f"{EVALUATE}/evaluation", json=body)
    assert response.status_code == status and message in response.json()["err_msg"]


async def test_an_app_is_judged_by_the_model_that_answers(runtime: Runtime, model: ScriptedChatModel) -> None:
    runtime.apps.create({"app_code": "vet", "app_name": "Vet",
                         "details": [{"resources": [{"type": "knowledge", "value": "animals"}]}]})  # fmt: skip
    model.messages = iter(["Cats purr when they are content. They sleep a lot.", "4\nIt answers well.", "1 yes\n2 no"])
    request = EvaluationRequest.model_validate(
        {"scene_key": "app", "scene_value": "vet",
         "datasets": [{"query": "Why do cats purr?", "factual": "when they are content"}],
         "evaluate_metrics": ["AnswerRelevancyMetric", "AnswerFaithfulnessMetric", "AnswerContainsMetric",
                              "AnswerExactMatchMetric", "RetrieverHitRateMetric"]}
    )  # fmt: skip
    report = await runtime.evaluation.run(request)
    relevancy, faithfulness, contains, exact, hit = report.rows[0]
    assert relevancy.score == 4.0 and relevancy.passing and relevancy.feedback == "It answers well."
    assert "Question:\nWhy do cats purr?" in model.texts(-2)[0] and "Cats purr when they are" in model.texts(-2)[0]
    assert faithfulness.score == 0.5 and faithfulness.feedback == "not supported: They sleep a lot."
    assert contains.score == 1.0 and exact.score == 0.0 and hit.score == 0.0  # the row names no document
    assert model.calls[0][-1].content == "Why do cats purr?"  # the app was asked the question
    judged = {summary.metric_name: summary.judged_by for summary in report.aggregate}
    assert judged["AnswerRelevancyMetric"] == "scripted" and judged["AnswerContainsMetric"] is None


async def test_the_api_reproduces_the_benchmarks_figures(settings: Settings, embedder: LocalEmbedder) -> None:
    texts = {name: text for name, text in load_documents().items() if name in ("csv.md", "json.md", "gzip.md")}
    questions = [q for q in load_questions() if q.doc in texts]
    runtime = Runtime(settings, chat_model=ScriptedChatModel.replying(), embedder=embedder)
    try:
        space = runtime.knowledge.spaces.create({"name": "python_docs"})
        await asyncio.to_thread(ingest_all, runtime.knowledge, space.id, texts)
        judge, where = Judge(texts), targets(questions, texts)
        ranks = [
            first_hit_rank(judge, runtime.knowledge.retriever.search("python_docs", q.question, top_k=5).chunks,
                           where[q.id], strict=True)
            for q in questions
        ]  # fmt: skip
        expected = scores(ranks)
        rows = [{"query": q.question, "doc_name": q.doc, "contexts": [q.passage]} for q in questions]
        request = {"scene_key": "recall", "scene_value": "python_docs", "datasets": rows, "context": {"top_k": 5}}
        report = await runtime.evaluation.run(EvaluationRequest.model_validate(request))
    finally:
        runtime.close()
    means = {summary.metric_name: round(summary.mean, 4) for summary in report.aggregate}
    assert means == {"RetrieverHitRateMetric": expected["hit@5"], "RetrieverMRRMetric": expected["mrr"]}
    assert 0 < expected["mrr"] < 1  # the subset is neither all hits nor all misses


async def test_datasets_are_stored_and_runs_compared(api: httpx.AsyncClient) -> None:
    csv_text = (
        'query,doc_name,contexts\nWhy do cats purr?,cats.txt,\nWhat do dogs do?,,"[""Dogs bark at strangers""]"\n'
    )
    stored = data(await api.post(f"{EVALUATE}/datasets", data={"name": "pets", "description": "d"},
                                 files={"file": ("pets.csv", csv_text.encode())}))  # fmt: skip
    assert stored["name"] == "pets" and stored["rows"] == 2
    lines = "\n".join(json.dumps({"query": q, "doc_name": "birds.txt"}) for q in ("Nests?", "Migration?"))
    jsonl = data(await api.post(f"{EVALUATE}/datasets", data={"name": "birds"}, files={"file": ("b.jsonl", lines)}))
    assert jsonl["rows"] == 2
    assert (await api.post(f"{EVALUATE}/datasets", json={"name": "pets", "data": [{"query": "q"}]})).status_code == 409
    bad = await api.post(f"{EVALUATE}/datasets", data={"name": "bad"}, files={"file": ("b.jsonl", "{\n")})
    assert bad.status_code == 400 and "line 1 is not JSON" in bad.json()["err_msg"]
    assert [d["name"] for d in data(await api.get(f"{EVALUATE}/datasets"))["datasets"]] == ["birds", "pets"]
    assert data(await api.get(f"{EVALUATE}/datasets/pets"))["data"][1]["contexts"] == ["Dogs bark at strangers"]
    runs = []
    for top_k in (1, 3):
        body = {"scene_key": "recall", "scene_value": "animals", "datasets_name": "pets", "context": {"top_k": top_k},
                "evaluate_metrics": ["RetrieverHitRateMetric", "RetrieverRecallMetric"]}  # fmt: skip
        started = await api.post(f"{EVALUATE}/runs", json=body)
        assert started.status_code == 202 and started.json()["data"]["status"] == "RUNNING"
        runs.append(await finished_run(api, started.json()["data"]["id"]))
    assert all(run["status"] == "FINISHED" for run in runs)
    compared = data(await api.get(f"{EVALUATE}/runs/{runs[0]['id']}/compare/{runs[1]['id']}"))
    hit = next(m for m in compared["metrics"] if m["metric_name"] == "RetrieverHitRateMetric")
    assert hit["first"] <= hit["second"] == 1.0 and hit["difference"] == hit["second"] - hit["first"]
    listed = data(await api.get(f"{EVALUATE}/runs"))["runs"]
    assert [run["id"] for run in listed[:2]] == [runs[1]["id"], runs[0]["id"]] and listed[0]["rows"] is None
    assert data(await api.delete(f"{EVALUATE}/datasets/pets"))["name"] == "pets"
    assert (await api.get(f"{EVALUATE}/datasets/pets")).status_code == 404


async def finished_run(api: httpx.AsyncClient, run_id: int) -> dict[str, Any]:
    """The run once it is over (the deadline is only a safety net)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run = data(await api.get(f"{EVALUATE}/runs/{run_id}"))
        if run["status"] != "RUNNING":
            return dict(run)
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} still running")


async def test_a_run_can_be_cancelled_and_reports_progress(runtime: Runtime) -> None:
    seen: list[tuple[int, int]] = []
    request = EvaluationRequest.model_validate(
        {"scene_key": "recall", "scene_value": "animals", "datasets": [{"query": q} for q in ("a", "b", "c", "d")]}
    )

    async def cancel_after_two(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 2:
            await runtime.evaluation.cancel(runtime.evaluation.runs.list()[0].id)

    with pytest.raises(Exception, match="cancelled after 3 of 4 rows"):  # the row under way when asked ends first
        await runtime.evaluation.run(request, cancel_after_two)
    run = runtime.evaluation.runs.list()[0]
    assert seen == [(0, 4), (1, 4), (2, 4)] and run.status == "CANCELLED" and run.done == 3
    with pytest.raises(Exception, match="is CANCELLED, not running"):
        await runtime.evaluation.cancel(run.id)
