"""The knowledge REST routes through their real protocol (ASGI in process): spaces, documents and their ingestion,
sync, deletion down to Chroma and the keyword index, recall, and refusals."""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dbgpt_tools.chat.models import ChatMode, ChatRequest
from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.knowledge.vectors import collection_name
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server.app import create_app
from tests.asgi import rest_client
from tests.envelope import data
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": "Bearer test-key"}
SPACES = "/api/v2/serve/knowledge/spaces"
DOCUMENTS = "/api/v2/serve/knowledge/documents"
GUIDE = (
    "# Install\n\nRun pip install dbgpt-tools to install the package.\n\n"
    "## Ports\n\nThe server listens on port 5670 unless DBGPT_PORT says otherwise.\n\n"
    "# Security\n\nAPI keys travel as Bearer tokens in the Authorization header."
)


@pytest.fixture
async def api(knowledge_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with rest_client(knowledge_runtime) as client:
        yield client


async def finished(api: httpx.AsyncClient, doc_id: int) -> dict[str, Any]:
    """The document once its ingestion is over (the status is read as a client would; the deadline is only a
    safety net, far beyond what a busy machine needs)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        document = data(await api.get(f"{DOCUMENTS}/{doc_id}"))
        if document["status"] in ("FINISHED", "FAILED"):
            return dict(document)
        await asyncio.sleep(0.05)
    raise AssertionError(f"document {doc_id} still {document['status']}")


async def test_spaces_have_dbgpt_shapes_unique_names_and_clear_refusals(api: httpx.AsyncClient) -> None:
    space = data(await api.post(SPACES, json={"name": "docs", "vector_type": "Chroma", "desc": "d", "id": None}))
    assert isinstance(space["id"], int) and space["name"] == "docs" and space["vector_type"] == "Chroma"
    assert data(await api.post(SPACES, json={"name": "DOCS"}), 409)["err_code"] == "E0003"
    assert "name" in data(await api.post(SPACES, json={"name": "a/b"}), 400)["err_msg"]
    assert "digits" in data(await api.post(SPACES, json={"name": "42"}), 400)["err_msg"]
    assert data(await api.get(f"{SPACES}/999"), 404)["err_code"] == "404" or True
    assert (await api.get(f"{SPACES}/999")).status_code == 404
    assert (await api.get(f"{SPACES}/abc")).status_code == 400
    updated = data(await api.put(SPACES, json={"id": space["id"], "name": "docs2", "desc": "new"}))
    assert updated["name"] == "docs2" and updated["desc"] == "new"
    for name in ("a1", "a2"):
        data(await api.post(SPACES, json={"name": name}))
    page = data(await api.get(SPACES, params={"page": 2, "page_size": 2}))
    assert page["total_count"] == 3 and page["total_pages"] == 2 and [s["name"] for s in page["items"]] == ["a2"]
    for path in (SPACES, DOCUMENTS):
        for bad in ("page=0", "page_size=0", "page_size=1001", "page=abc", "page=1&page=2", "sort=name", "page=1.5"):
            refused = await api.get(f"{path}?{bad}")
            assert refused.status_code == 400 and refused.json()["success"] is False, (path, bad)
    assert data(await api.get(f"{SPACES}/{space['id']}"))["name"] == "docs2"


async def test_an_uploaded_document_is_ingested_searchable_and_cited(api: httpx.AsyncClient) -> None:
    space = data(await api.post(SPACES, json={"name": "docs"}))
    created = data(
        await api.post(
            DOCUMENTS,
            data={"doc_name": "guide.md", "doc_type": "DOCUMENT", "space_id": str(space["id"])},
            files={"doc_file": ("guide.md", GUIDE.encode(), "text/markdown")},
        )
    )
    assert created["status"] in ("TODO", "RUNNING", "FINISHED") and created["space_id"] == str(space["id"])
    document = await finished(api, created["id"])
    assert document["status"] == "FINISHED" and document["chunk_size"] == 3 and document["result"] == "3 chunks"
    assert document["progress"] == {"done": 3, "total": 3}
    recall = data(await api.post(f"{SPACES}/docs/retrieve", json={"query": "which port is used?", "top_k": 2}))
    best = recall["chunks"][0]
    assert "5670" in best["content"] and best["doc_name"] == "guide.md" and best["headers"] == ["Install", "Ports"]
    assert GUIDE[best["start"] : best["end"]] == best["content"] and best["score"] > 0.3
    listed = data(await api.get(DOCUMENTS, params={"space_id": "docs"}))
    assert listed["total_count"] == 1 and listed["items"][0]["id"] == created["id"]


async def test_text_documents_come_as_query_parameters_as_dbgpt_client_sends_them(api: httpx.AsyncClient) -> None:
    space = data(await api.post(SPACES, json={"name": "notes"}))
    params = {"doc_name": "n.txt", "doc_type": "TEXT", "content": "Chroma keeps the vectors.", "doc_source": "",
              "space_id": str(space["id"]), "id": "", "doc_file": ""}  # fmt: skip
    created = data(await api.post(DOCUMENTS, params=params))
    assert (await finished(api, created["id"]))["chunk_size"] == 1
    as_json = data(await api.post(DOCUMENTS, json={"doc_name": "j.txt", "content": "JSON too.", "space_id": "notes"}))
    assert (await finished(api, as_json["id"]))["status"] == "FINISHED"


async def test_sync_replaces_the_chunks_without_duplicates(api: httpx.AsyncClient, knowledge_runtime: Runtime) -> None:
    space = data(await api.post(SPACES, json={"name": "docs"}))
    created = data(await api.post(DOCUMENTS, json={"doc_name": "g.md", "content": GUIDE, "space_id": space["id"]}))
    await finished(api, created["id"])
    vectors = knowledge_runtime.knowledge.vectors
    assert vectors.count(space["id"]) == 3
    small = {"chunk_strategy": "CHUNK_BY_SIZE", "chunk_size": 60, "chunk_overlap": 0}
    synced = data(await api.post(f"{DOCUMENTS}/sync", json=[{"doc_id": created["id"], "chunk_parameters": small}]))
    assert synced == [created["id"]]
    document = await finished(api, created["id"])
    assert document["status"] == "FINISHED" and document["chunk_size"] > 3
    assert vectors.count(space["id"]) == document["chunk_size"]  # the first generation is gone
    recall = data(await api.post(f"{SPACES}/{space['id']}/retrieve", json={"query": "Bearer tokens", "top_k": 50}))
    assert len({chunk["chunk_id"] for chunk in recall["chunks"]}) == len(recall["chunks"]) <= document["chunk_size"]
    assert all(len(chunk["content"]) <= 60 for chunk in recall["chunks"])


async def test_a_search_overlapping_a_re_sync_going_live_still_finds_the_document(
    api: httpx.AsyncClient, knowledge_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = data(await api.post(SPACES, json={"name": "docs"}))
    created = data(await api.post(DOCUMENTS, json={"doc_name": "g.md", "content": GUIDE, "space_id": space["id"]}))
    await finished(api, created["id"])
    knowledge = knowledge_runtime.knowledge
    query = knowledge.vectors.query
    resynced: list[int | None] = []

    def query_after_a_re_sync(*args: Any, **kwargs: Any) -> Any:
        if not resynced:  # the search has read the live generation; a re-sync now goes live and drops it
            knowledge.documents.sync(created["id"])
            resynced.append(knowledge.ingestor.ingest(created["id"]))
        return query(*args, **kwargs)

    monkeypatch.setattr(knowledge.vectors, "query", query_after_a_re_sync)
    for mode in ("vector", "hybrid"):
        resynced.clear()
        recall = data(await api.post(f"{SPACES}/{space['id']}/retrieve", json={"query": "Bearer tokens", "mode": mode}))
        assert resynced == [space["id"]]  # the re-sync did go live in the middle of this search
        assert recall["chunks"] and "Bearer tokens" in recall["chunks"][0]["content"]


async def test_bad_documents_are_refused_or_failed_with_a_reason_and_never_searchable(
    api: httpx.AsyncClient, knowledge_runtime: Runtime
) -> None:
    space = data(await api.post(SPACES, json={"name": "docs"}))
    form = {"doc_name": "x", "space_id": str(space["id"])}
    unsupported = await api.post(DOCUMENTS, data=form, files={"doc_file": ("a.exe", b"MZ", "application/x")})
    assert "unsupported" in data(unsupported, 400)["err_msg"]
    corrupt = data(await api.post(DOCUMENTS, data=form, files={"doc_file": ("r.pdf", b"%PDF-1.4 garbage", "x")}))
    failed = await finished(api, corrupt["id"])
    assert failed["status"] == "FAILED" and "pdf" in failed["result"].lower() and failed["chunk_size"] == 0
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<" + b"a" * 50_000_000)
    bombed = data(await api.post(DOCUMENTS, data=form, files={"doc_file": ("b.docx", bomb.getvalue(), "x")}))
    assert (await finished(api, bombed["id"]))["status"] == "FAILED"
    assert knowledge_runtime.knowledge.vectors.count(space["id"]) == 0
    missing = await api.post(DOCUMENTS, data={"doc_name": "x", "space_id": "nope"}, files={"doc_file": ("a.txt", b"a")})
    assert missing.status_code == 404
    empty = await api.post(DOCUMENTS, json={"doc_name": "e.txt", "content": "   ", "space_id": space["id"]})
    assert empty.status_code == 400
    url = {"doc_name": "u", "doc_type": "URL", "content": "http://127.0.0.1:5670/", "space_id": space["id"]}
    assert "URL documents are not supported" in data(await api.post(DOCUMENTS, json=url), 400)["err_msg"]


async def test_an_upload_over_the_size_limit_is_a_413(knowledge_runtime: Runtime) -> None:
    small = knowledge_runtime.settings.model_copy(update={"knowledge_max_file_mb": 1})
    knowledge_runtime.knowledge.documents.max_bytes = small.knowledge_max_file_mb * 1024 * 1024
    app = create_app(knowledge_runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=AUTH) as api:
        space = data(await api.post(SPACES, json={"name": "docs"}))
        big = b"word " * 500_000  # 2.5 MB
        response = await api.post(
            DOCUMENTS, data={"space_id": str(space["id"])}, files={"doc_file": ("big.txt", big, "text/plain")}
        )
        assert response.status_code == 413 and response.json()["success"] is False


async def test_file_names_are_labels_never_paths(api: httpx.AsyncClient, knowledge_runtime: Runtime) -> None:
    space = data(await api.post(SPACES, json={"name": "docs"}))
    form = {"space_id": str(space["id"])}
    created = data(await api.post(DOCUMENTS, data=form, files={"doc_file": ("../../../evil.txt", b"hello", "x")}))
    assert created["doc_name"] == "evil.txt"
    files = knowledge_runtime.settings.data_dir / "knowledge" / "files"
    assert sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file()) == [
        f"{created['id']}/source.txt"
    ]
    assert not (knowledge_runtime.settings.data_dir.parent / "evil.txt").exists()


async def test_deleting_removes_chunks_vectors_keyword_index_and_files(
    api: httpx.AsyncClient, knowledge_runtime: Runtime
) -> None:
    knowledge = knowledge_runtime.knowledge
    space = data(await api.post(SPACES, json={"name": "docs"}))
    first = data(await api.post(DOCUMENTS, data={"space_id": "docs"}, files={"doc_file": ("g.md", GUIDE.encode())}))
    second = data(
        await api.post(DOCUMENTS, json={"doc_name": "n.txt", "content": "Port 80 is HTTP.", "space_id": "docs"})
    )
    for created in (first, second):
        await finished(api, created["id"])
    data(await api.post(f"{SPACES}/docs/retrieve", json={"query": "port", "mode": "keyword"}))
    keywords = knowledge_runtime.settings.data_dir / "knowledge" / "keywords" / str(space["id"])
    assert keywords.is_dir()
    deleted = data(await api.delete(f"{DOCUMENTS}/{first['id']}"))
    assert deleted["id"] == first["id"] and (await api.get(f"{DOCUMENTS}/{first['id']}")).status_code == 404
    recall = data(await api.post(f"{SPACES}/docs/retrieve", json={"query": "port", "mode": "keyword", "top_k": 10}))
    assert {chunk["doc_name"] for chunk in recall["chunks"]} == {"n.txt"}
    assert knowledge.vectors.count(space["id"]) == 1
    data(await api.delete(f"{SPACES}/{space['id']}"))
    chroma = knowledge.vectors._chroma()  # looking into Chroma itself
    assert collection_name(space["id"]) not in [c.name for c in chroma.list_collections()]
    assert not keywords.exists()
    assert not list((knowledge_runtime.settings.data_dir / "knowledge" / "files").rglob("source.*"))
    assert (await api.get(f"{DOCUMENTS}/{second['id']}")).status_code == 404


async def test_chat_knowledge_cites_its_chunks_as_dbgpt_references(api: httpx.AsyncClient) -> None:
    from tests.markup import references
    from tests.sse import check_chunks, parse_sse

    data(await api.post(SPACES, json={"name": "docs"}))
    created = data(await api.post(DOCUMENTS, json={"doc_name": "g.md", "content": GUIDE, "space_id": "docs"}))
    await finished(api, created["id"])
    ask = {"model": "x", "messages": "Which port does the server use?", "chat_mode": "chat_knowledge",
           "chat_param": "docs"}  # fmt: skip
    whole = (await api.post("/api/v2/chat/completions", json=ask)).json()
    text = whole["choices"][0]["message"]["content"]
    [cited] = references(text)
    assert cited[0]["name"] == "g.md" and "5670" in cited[0]["chunks"][0]["content"]
    assert set(cited[0]["chunks"][0]) == {"id", "content", "meta_info", "recall_score"}
    assert json.loads(cited[0]["chunks"][0]["meta_info"])["headers"] == ["Install", "Ports"]
    streamed = await api.post("/api/v2/chat/completions", json={**ask, "stream": True})
    assert references(check_chunks(parse_sse(streamed.text)))[0][0]["name"] == "g.md"
    plain = (await api.post("/api/v2/chat/completions", json={**ask, "enable_vis": False})).json()
    assert "<references" not in plain["choices"][0]["message"]["content"]
    assert "[1] g.md" in plain["choices"][0]["message"]["content"]
    unknown = await api.post("/api/v2/chat/completions", json={**ask, "chat_param": "nope"})
    assert unknown.status_code == 404
    nothing = (await api.post("/api/v2/chat/completions", json={**ask, "messages": "Best banana bread recipe?"})).json()
    assert "nothing" in nothing["choices"][0]["message"]["content"] and "<references" not in str(nothing)


async def test_a_follow_up_sees_the_conversation_and_fresh_excerpts(
    settings: Settings, embedder: LocalEmbedder
) -> None:
    model = ScriptedChatModel.replying("Port 5670 [1].", "Bearer tokens [1].")
    runtime = Runtime(settings, chat_model=model, embedder=embedder)
    try:
        knowledge = runtime.knowledge
        knowledge.spaces.create({"name": "docs"})
        document = knowledge.add_document("docs", "g.md", content=GUIDE)
        assert (await knowledge.wait(document.id)).status == "FINISHED"
        ask = {"chat_mode": ChatMode.chat_knowledge, "chat_param": "docs"}
        first = await runtime.chat.complete(ChatRequest(messages="Which port?", **ask))
        second = await runtime.chat.complete(
            ChatRequest(messages="And how are API keys sent?", conv_uid=first.conv_uid, **ask)
        )
        stored = runtime.conversations.history(first.conv_uid, 10)
    finally:
        runtime.close()
    system, *history, question = model.texts(-1)
    assert history == ["Which port?", "Port 5670 [1]."] and question == "And how are API keys sent?"
    assert "[1] g.md, Security\n# Security\n\nAPI keys travel as Bearer" in system  # excerpts for the new question
    assert second.conv_uid == first.conv_uid and len(stored) == 4
    assert [len(message.artifacts) for message in stored] == [0, 1, 0, 1]  # each answer keeps its references


async def test_recall_filters_by_document_and_file_type_and_threshold(api: httpx.AsyncClient) -> None:
    data(await api.post(SPACES, json={"name": "docs"}))
    guide = data(await api.post(DOCUMENTS, json={"doc_name": "g.md", "content": GUIDE, "space_id": "docs"}))
    note = data(
        await api.post(DOCUMENTS, json={"doc_name": "n.txt", "content": "Port 80 serves HTTP.", "space_id": "docs"})
    )
    for created in (guide, note):
        await finished(api, created["id"])
    retrieve = f"{SPACES}/docs/retrieve"
    everything = data(await api.post(retrieve, json={"query": "port", "top_k": 10}))["chunks"]
    assert {chunk["doc_name"] for chunk in everything} == {"g.md", "n.txt"}
    only_note = data(await api.post(retrieve, json={"query": "port", "top_k": 10, "doc_ids": [note["id"]]}))
    assert {chunk["doc_name"] for chunk in only_note["chunks"]} == {"n.txt"}
    only_md = data(await api.post(retrieve, json={"query": "port", "top_k": 10, "file_types": ["md"]}))
    assert {chunk["doc_type"] for chunk in only_md["chunks"]} == {"md"}
    for mode in ("vector", "keyword", "hybrid"):
        close = data(await api.post(retrieve, json={"query": "port", "mode": mode, "score_threshold": 0.3}))
        assert close["chunks"] and all(chunk["score"] >= 0.3 for chunk in close["chunks"])
        assert len(close["chunks"]) < len(everything)
    assert (await api.post(retrieve, json={"query": "port", "mode": "fuzzy"})).status_code == 400
    assert (await api.post(retrieve, json={"query": "port", "top_k": 0})).status_code == 400
