"""Evaluation on the other faces: MCP reports each row as progress; a background run over REST stops at once when
cancelled, even in the middle of a model's answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from mcp import Client

from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server.mcp import build_mcp_server
from tests.scripted import StallingModel

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": "Bearer test-key"}
RUNS = "/api/v2/serve/evaluate/runs"
NOTES = {"a.txt": "Orders ship from the north warehouse.", "b.txt": "Refunds take five working days."}


@pytest.fixture
def stalling() -> StallingModel:
    return StallingModel(messages=iter([]))


@pytest.fixture
def runtime(settings: Settings, stalling: StallingModel) -> Iterator[Runtime]:
    rt = Runtime(settings, chat_model=stalling, embedder=LocalEmbedder())
    rt.knowledge.spaces.create({"name": "notes"})
    for name, text in NOTES.items():
        document = rt.knowledge.add_document("notes", name, content=text)
        assert asyncio.run(rt.knowledge.wait(document.id)).status == "FINISHED"
    rt.apps.create({"app_code": "chatty", "app_name": "Chatty"})
    yield rt
    rt.close()


async def test_mcp_run_evaluation_reports_each_row_as_progress(runtime: Runtime) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    rows = [{"query": "Where do orders ship from?", "doc_name": "a.txt"}, {"query": "Refunds?", "doc_name": "b.txt"}]
    arguments = {"scene_key": "recall", "scene_value": "notes", "datasets": rows, "context": {"top_k": 1}}
    async with Client(build_mcp_server(runtime)) as client:
        result = await client.call_tool("run_evaluation", arguments, progress_callback=on_progress)
    assert [(done, total) for done, total, _ in seen] == [(0, 2), (1, 2), (2, 2)]
    assert seen[-1][2] == "2 of 2 rows evaluated"
    report = result.structured_content
    assert {s["metric_name"]: s["mean"] for s in report["aggregate"]}["RetrieverHitRateMetric"] == 1.0
    assert len(report["rows"]) == 2 and isinstance(report["run_id"], int)


async def test_a_background_run_stops_at_once_when_cancelled(api: httpx.AsyncClient, stalling: StallingModel) -> None:
    body = {"scene_key": "app", "scene_value": "chatty", "datasets": [{"query": "Hello?"}, {"query": "Again?"}],
            "evaluate_metrics": ["AnswerContainsMetric"]}  # fmt: skip
    started = await api.post(RUNS, json=body)
    run_id = started.json()["data"]["id"]
    assert await asyncio.to_thread(stalling.started.wait, 60)  # the app's model is writing the first answer
    cancelled = (await api.post(f"{RUNS}/{run_id}/cancel")).json()["data"]
    assert cancelled["status"] == "CANCELLED" and cancelled["done"] == 0 and cancelled["error"] == "cancelled"
    assert stalling.cancelled.is_set()  # the model's stream was stopped, not left running
    again = await api.post(f"{RUNS}/{run_id}/cancel")
    assert again.status_code == 409 and "is CANCELLED, not running" in again.json()["err_msg"]
    assert (await api.post(f"{RUNS}/99/cancel")).status_code == 404
