"""chat_knowledge end to end on the real embedded model (Qwen2.5-Coder-1.5B) and the real embedding model, and the
sample knowledge space a new server registers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from dbgpt_tools.chat.models import ChatMode, ChatRequest, ReferencesArtifact
from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.knowledge.sample_space import SAMPLE_SPACE_NAME, sample_documents
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.conftest import MODEL_DIR
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio
HANDBOOK = (
    "# Leave\n\nEvery employee gets 27 days of paid holiday per calendar year. Unused days expire in March.\n\n"
    "# Office\n\nThe office in Lyon opens at 8:00 and closes at 18:30. Visitors sign in at the front desk.\n\n"
    "# Equipment\n\nLaptops are replaced every four years; ask the IT desk on the second floor."
)


@asynccontextmanager
async def handbook(tmp_path: Path, embedder: LocalEmbedder) -> AsyncIterator[Runtime]:
    """A runtime on the real default model with the handbook in a space named `handbook`."""
    settings = Settings(data_dir=tmp_path, model_dir=MODEL_DIR, llm_max_parallel=1, local_ctx=4096, sample_db=False)
    runtime = Runtime(settings, embedder=embedder)
    try:
        runtime.knowledge.spaces.create({"name": "handbook"})
        document = runtime.knowledge.add_document("handbook", "handbook.md", content=HANDBOOK)
        assert (await runtime.knowledge.wait(document.id)).status == "FINISHED"
        yield runtime
    finally:
        runtime.close()


@pytest.mark.local_model
async def test_real_qwen_model_answers_from_the_documents_and_cites_them(
    tmp_path: Path, embedder: LocalEmbedder
) -> None:
    async with handbook(tmp_path, embedder) as runtime:
        question = ChatRequest(
            messages="How many days of paid holiday does an employee get?",
            chat_mode=ChatMode.chat_knowledge,
            chat_param="handbook",
            temperature=0,
            max_new_tokens=64,
        )
        result = await runtime.chat.complete(question)
    assert "27" in result.content
    [references] = result.artifacts
    assert isinstance(references, ReferencesArtifact)
    assert "27 days" in references.chunks[0].content and references.chunks[0].headers == ["Leave"]


def test_a_new_server_registers_the_projects_documentation_as_a_sample_space(
    settings: Settings, embedder: LocalEmbedder
) -> None:
    runtime = Runtime(
        settings.model_copy(update={"sample_space": True}), chat_model=ScriptedChatModel.replying(), embedder=embedder
    )
    try:
        runtime.start_background()
        runtime.start_background()  # a second worker (or start) finds it there: nothing is added twice
        documents = runtime.knowledge.documents.page(SAMPLE_SPACE_NAME, page_size=100).items
        assert sorted(d.doc_name for d in documents) == sorted(p.name for p in sample_documents())
        for document in documents:
            assert asyncio.run(runtime.knowledge.wait(document.id)).status == "FINISHED", document.result
        found = runtime.knowledge.retriever.search(SAMPLE_SPACE_NAME, "Which setting holds the API keys?", top_k=3)
        assert any("DBGPT_API_KEYS" in chunk.content for chunk in found.chunks)
    finally:
        runtime.close()


@pytest.mark.local_model
async def test_real_qwen_model_answers_through_an_app(tmp_path: Path, embedder: LocalEmbedder) -> None:
    async with handbook(tmp_path, embedder) as runtime:
        resource = {"type": "knowledge", "value": "handbook"}
        template = "You are the office assistant. Answer in one short sentence."
        runtime.apps.create({"app_code": "office", "app_name": "Office",
                             "details": [{"resources": [resource], "prompt_template": template}]})  # fmt: skip
        question = ChatRequest(
            messages="When does the office in Lyon open?",
            chat_mode=ChatMode.chat_app,
            chat_param="office",
            temperature=0,
            max_new_tokens=48,
        )
        result = await runtime.chat.complete(question)
    assert "8" in result.content
    [references] = result.artifacts
    assert isinstance(references, ReferencesArtifact) and references.chunks[0].headers == ["Office"]


@pytest.mark.local_model
async def test_real_qwen_model_answers_through_a_flow_as_it_writes(tmp_path: Path, embedder: LocalEmbedder) -> None:
    async with handbook(tmp_path, embedder) as runtime:
        nodes: list[tuple[str, str, dict[str, object]]] = [
            ("in", "user_input", {}),
            ("find", "retrieve", {"space": "handbook", "top_k": 2}),
            ("excerpts", "format_chunks", {}),
            ("answer", "llm", {"system": "Answer in one short sentence from the excerpts."}),
        ]
        edges = [("in", "find", 0), ("find", "excerpts", 0), ("in", "answer", 0), ("excerpts", "answer", 1)]
        flow_data = {
            "nodes": [{"id": i, "data": {"name": op, "parameters": [{"name": k, "value": v} for k, v in p.items()]}}
                      for i, op, p in nodes],
            "edges": [{"source": s, "target": t, "target_order": order} for s, t, order in edges],
        }  # fmt: skip
        runtime.flows.create({"uid": "office", "name": "office", "flow_data": flow_data})
        question = ChatRequest(
            messages="When does the office in Lyon open?",
            chat_mode=ChatMode.chat_flow,
            chat_param="office",
            temperature=0,
            max_new_tokens=48,
        )
        deltas = [chunk.delta async for chunk in await runtime.chat.start(question) if chunk.delta]
    assert len(deltas) > 3 and "8" in "".join(deltas)  # streamed token by token, and right
