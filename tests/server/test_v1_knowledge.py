"""DB-GPT's v1 knowledge API as its web UI drives it (ASGI in process, the real embedding model, a scripted chat
model): spaces, text and uploaded documents, sync_batch's tasks and the statuses reaching FINISHED, the detail
page's calls, deletes, the shapes of the constant answers, and refusals (4xx in the envelope, never a 500)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dbgpt_tools.runtime import Runtime
from tests.asgi import rest_client
from tests.envelope import data

pytestmark = pytest.mark.anyio
V1 = "/api/v1/knowledge"
V2 = "/api/v2/serve/knowledge"
GUIDE = (
    "# Install\n\nRun pip install dbgpt-tools to install the package.\n\n"
    "## Ports\n\nThe server listens on port 5670 unless DBGPT_PORT says otherwise.\n\n"
    "# Security\n\nAPI keys travel as Bearer tokens in the Authorization header."
)
NOTE = "Chroma keeps the vectors of every knowledge space. BM25 ranks the chunks by their words."
UI_SPACE = {
    "name": "handbook",
    "vector_type": "VectorStore",
    "owner": "ops",
    "desc": "The team handbook",
    "domain_type": "Normal",
    "index_methods": ["VectorStore", "FullText", "KnowledgeGraph"],
}


@pytest.fixture
async def api(knowledge_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with rest_client(knowledge_runtime) as client:
        yield client


async def settled(api: httpx.AsyncClient, space: str, doc_ids: list[int]) -> list[dict[str, Any]]:
    """The documents once all are FINISHED or FAILED, polled as the UI polls them (the deadline is a safety net far
    beyond what a busy machine needs, not a wait)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        listed = data(await api.post(f"{V1}/{space}/document/list", json={"doc_ids": doc_ids}))
        if all(document["status"] in ("FINISHED", "FAILED") for document in listed["data"]):
            return list(listed["data"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"documents {doc_ids} still not done: {listed}")


async def test_the_knowledge_page_journey(api: httpx.AsyncClient, knowledge_runtime: Runtime) -> None:
    config = data(await api.get(f"{V1}/space/config"))
    assert [storage["name"] for storage in config["storage"]] == ["VectorStore"]
    assert config["storage"][0]["domain_types"] == [{"name": "Normal", "desc": "Normal"}]
    created = data(await api.post(f"{V1}/space/add", json=UI_SPACE))
    assert created["name"] == "handbook" and created["vector_type"] == "Chroma" and created["docs"] == 0
    [listed] = data(await api.post(f"{V1}/space/list", json={}))
    assert set(listed) == {"id", "name", "vector_type", "index_methods", "domain_type", "desc", "context", "owner",
                           "gmt_created", "gmt_modified", "docs"}  # fmt: skip
    assert listed["index_methods"] == ["VectorStore", "FullText"] and listed["domain_type"] == "Normal"
    assert listed["owner"] == "ops" and listed["desc"] == "The team handbook"

    text = {"doc_name": "note", "source": "wiki", "content": NOTE, "doc_type": "TEXT", "questions": []}
    note_id = data(await api.post(f"{V1}/handbook/document/add", json=text))
    form = {"doc_name": "guide.md", "doc_type": "DOCUMENT"}
    upload = {"doc_file": ("guide.md", GUIDE.encode(), "text/markdown")}
    guide_id = data(await api.post(f"{V1}/handbook/document/upload", data=form, files=upload))
    assert isinstance(note_id, int) and isinstance(guide_id, int) and note_id != guide_id
    waiting = data(await api.post(f"{V1}/handbook/document/list", json={"doc_ids": [note_id, guide_id]}))
    assert [document["status"] for document in waiting["data"]] == ["TODO", "TODO"]  # nothing ingested before sync

    batch = [
        {"doc_id": note_id, "name": "note", "chunk_parameters": {"chunk_strategy": "Automatic"}},
        {"doc_id": guide_id, "name": "guide.md",
         "chunk_parameters": {"chunk_strategy": "CHUNK_BY_SIZE", "chunk_size": 60, "chunk_overlap": 0}},
    ]  # fmt: skip
    assert data(await api.post(f"{V1}/handbook/document/sync_batch", json=batch)) == {"tasks": [note_id, guide_id]}
    note, guide = await settled(api, "handbook", [note_id, guide_id])
    assert note["status"] == guide["status"] == "FINISHED", (note, guide)
    assert note["doc_type"] == "TEXT" and note["chunk_size"] == 1 and note["last_sync"]
    assert guide["doc_type"] == "DOCUMENT" and guide["chunk_size"] > 3  # cut at 60 characters, as asked

    page = data(await api.post(f"{V1}/handbook/document/list", json={"page": 1, "page_size": 18}))
    assert page["total"] == 2 and page["page"] == 1 and [d["doc_name"] for d in page["data"]] == ["note", "guide.md"]
    assert data(await api.post(f"{V1}/space/list", json={"name": "handbook"}))[0]["docs"] == 2
    query = {"query": "which port does the server listen on?", "top_k": 3}
    found = data(await api.post(f"{V2}/spaces/{created['id']}/retrieve", json=query))
    assert any("5670" in chunk["content"] for chunk in found["chunks"])  # the documents are searchable

    rebuilt = knowledge_runtime.knowledge.document_text(guide_id)  # from its 60-character chunks
    assert rebuilt.split() == GUIDE.split() and rebuilt.startswith("# Install\nRun pip")
    read = data(await api.post(f"{V2}/handbook/tools/cat", json={"path": "guide.md", "start_line": 2, "end_line": 2}))
    assert read.splitlines() == [
        f"guide.md (DOCUMENT, {len(rebuilt.splitlines())} lines)",
        "     2 | Run pip install dbgpt-tools to install the package.",
    ]

    assert data(await api.post(f"{V1}/handbook/document/delete", json={"doc_name": "note"}))["id"] == note_id
    left = data(await api.post(f"{V1}/handbook/document/list", json={}))
    assert [document["id"] for document in left["data"]] == [guide_id] and left["total"] == 1
    assert data(await api.post(f"{V1}/space/delete", json={"name": "handbook"}))["name"] == "handbook"
    assert data(await api.post(f"{V1}/space/list", json={})) == []
    assert (await api.post(f"{V1}/handbook/document/list", json={})).status_code == 404


async def test_the_detail_page_calls(api: httpx.AsyncClient) -> None:
    space = data(await api.post(f"{V1}/space/add", json=UI_SPACE))
    guide_id = data(await api.post(f"{V1}/handbook/document/add", json={"doc_name": "docs/guide.md", "content": GUIDE}))
    note_id = data(await api.post(f"{V1}/handbook/document/add", json={"doc_name": "note.txt", "content": NOTE}))
    small = {"chunk_strategy": "CHUNK_BY_SIZE", "chunk_size": 60, "chunk_overlap": 0}
    sync = [{"doc_id": guide_id, "chunk_parameters": small}, {"doc_id": note_id}]
    data(await api.post(f"{V1}/handbook/document/sync_batch", json=sync))
    guide, note = await settled(api, "handbook", [guide_id, note_id])

    stats = data(await api.get(f"{V2}/{space['id']}/stats"))
    assert stats["name"] == "handbook" and stats["document_count"] == 2
    assert stats["chunk_count"] == guide["chunk_size"] + note["chunk_size"]
    assert stats["graph_vertex_count"] is None and stats["sync_status"] is None and "graph_edge_count" in stats
    assert data(await api.get(f"{V2}/handbook/stats"))["document_count"] == 2  # by name too

    top = data(await api.post(f"{V2}/handbook/tools/ls-json", json={"path": "", "limit": 500}))
    assert top["path"] == "/" and top["total_dirs"] == 1 and top["total_files"] == 1
    assert [(e["name"], e["is_dir"], e["child_count"]) for e in top["entries"]] == [
        ("docs", True, 1),
        ("note.txt", False, None),
    ]
    assert top["entries"][1]["doc_id"] == note_id and top["entries"][1]["file_type"] == "txt"
    folder = data(await api.post(f"{V2}/{space['id']}/tools/ls-json", json={"path": "docs", "limit": 10}))
    assert [(e["path"], e["doc_id"]) for e in folder["entries"]] == [("docs/guide.md", guide_id)]

    chunks = data(await api.post(f"{V1}/handbook/chunk/list", json={"document_id": str(guide_id), "page_size": 3}))
    assert chunks["total"] == guide["chunk_size"] and len(chunks["data"]) == 3 and chunks["page"] == 1
    assert GUIDE.startswith(chunks["data"][0]["content"]) and all(len(c["content"]) <= 60 for c in chunks["data"])
    assert chunks["data"][0]["document_id"] == guide_id and '"index": 0' in chunks["data"][0]["meta_info"]
    last = data(await api.post(f"{V1}/handbook/chunk/list", json={"document_id": guide_id, "page": 2, "page_size": 3}))
    assert '"index": 3' in last["data"][0]["meta_info"]
    bearer = data(await api.post(f"{V1}/handbook/chunk/list", json={"document_id": guide_id, "content": "BEARER"}))
    assert bearer["total"] >= 1 and all("bearer" in c["content"].lower() for c in bearer["data"])

    read = data(await api.post(f"{V2}/handbook/tools/cat", json={"path": "note.txt"}))
    assert read == f"note.txt (TEXT, 1 lines)\n     1 | {NOTE}"  # a text document as it was sent
    assert (await api.post(f"{V2}/handbook/tools/cat", json={"path": "ghost.txt"})).status_code == 404

    arguments = data(await api.post(f"{V1}/handbook/arguments", json={}))
    assert arguments["embedding"]["topk"] >= 1 and arguments["embedding"]["model"] and arguments["prompt"]["template"]
    strategies = data(await api.post(f"{V1}/retrieve_strategy_list", json={}))
    assert {"name": "HYBRID", "name_cn": "混合检索", "value": "HYBRID"} in strategies

    resynced = data(await api.post(f"{V1}/handbook/document/sync", json={"doc_ids": [guide_id], "chunk_size": 512}))
    assert resynced == [guide_id]
    [again] = await settled(api, "handbook", [guide_id])
    assert again["status"] == "FINISHED" and again["chunk_size"] < guide["chunk_size"]


async def test_chunk_strategies_map_onto_our_splitters(api: httpx.AsyncClient) -> None:
    strategies = {s["strategy"]: s for s in data(await api.get(f"{V1}/document/chunkstrategies"))}
    assert set(strategies) == {"CHUNK_BY_SIZE", "CHUNK_BY_PAGE", "CHUNK_BY_PARAGRAPH", "CHUNK_BY_SEPARATOR",
                               "CHUNK_BY_MARKDOWN_HEADER"}  # fmt: skip
    by_size = strategies["CHUNK_BY_SIZE"]
    assert set(by_size) == {"strategy", "name", "description", "parameters", "suffix", "type"}
    assert by_size["parameters"] == [
        {"param_name": "chunk_size", "param_type": "int", "default_value": 512, "description": "Longest chunk."},
        {"param_name": "chunk_overlap", "param_type": "int", "default_value": 50,
         "description": "Characters repeated from one chunk in the next one (smaller than chunk_size)."},
    ]  # fmt: skip
    assert "pdf" in by_size["suffix"] and "md" in by_size["suffix"] and by_size["type"] == ["DOCUMENT", "TEXT"]
    separator = {p["param_name"]: p for p in strategies["CHUNK_BY_SEPARATOR"]["parameters"]}
    assert separator["separator"]["default_value"] == "\n" and separator["enable_merge"]["param_type"] == "boolean"
    assert strategies["CHUNK_BY_PAGE"]["suffix"] == ["pdf", "xlsx"] and strategies["CHUNK_BY_PAGE"]["parameters"] == []
    # every advertised parameter is one the sync accepts: the UI sends them back with their defaults
    data(await api.post(f"{V1}/space/add", json={"name": "s"}))
    doc = data(await api.post(f"{V1}/s/document/add", json={"doc_name": "n", "content": "one\ntwo\nthree"}))
    for strategy in strategies.values():
        chosen = {p["param_name"]: p["default_value"] for p in strategy["parameters"]}
        sync = [{"doc_id": doc, "chunk_parameters": {"chunk_strategy": strategy["strategy"], **chosen}}]
        assert data(await api.post(f"{V1}/s/document/sync_batch", json=sync)) == {"tasks": [doc]}
    [document] = await settled(api, "s", [doc])
    assert document["status"] == "FINISHED"


async def test_document_lists_filter_and_page(api: httpx.AsyncClient) -> None:
    data(await api.post(f"{V1}/space/add", json={"name": "many"}))
    ids = [data(await api.post(f"{V1}/many/document/add", json={"doc_name": f"doc {n}", "content": f"text {n}"}))
           for n in range(5)]  # fmt: skip
    data(await api.post(f"{V1}/many/document/sync_batch", json=[{"doc_id": ids[0]}]))
    await settled(api, "many", [ids[0]])
    second = data(await api.post(f"{V1}/many/document/list", json={"page": 2, "page_size": 2}))
    assert second["total"] == 5 and [d["id"] for d in second["data"]] == ids[2:4]
    assert [d["id"] for d in data(await api.post(f"{V1}/many/document/list", json={"doc_name": "c 3"}))["data"]] == [
        ids[3]
    ]
    todo = data(await api.post(f"{V1}/many/document/list", json={"status": "TODO"}))
    assert todo["total"] == 4 and ids[0] not in [d["id"] for d in todo["data"]]
    assert data(await api.post(f"{V1}/many/document/list", json={"doc_type": "DOCUMENT"}))["total"] == 0
    data(await api.post(f"{V1}/space/add", json={"name": "other"}))
    foreign = data(await api.post(f"{V1}/other/document/add", json={"doc_name": "x", "content": "y"}))
    by_ids = data(await api.post(f"{V1}/many/document/list", json={"doc_ids": [*ids, foreign]}))
    assert [d["id"] for d in by_ids["data"]] == ids  # all of them, and only this space's


async def test_bad_input_is_a_4xx_in_the_envelope(api: httpx.AsyncClient) -> None:
    async def refused(path: str, status: int = 400, **request: Any) -> str:
        response = await api.post(f"{V1}{path}", **request)
        return str(data(response, status)["err_msg"])

    assert "KnowledgeGraph" in await refused("/space/add", json={**UI_SPACE, "vector_type": "KnowledgeGraph"})
    assert "Normal" in await refused("/space/add", json={**UI_SPACE, "domain_type": "GitRepo"})
    assert "index_methods" in await refused("/space/add", json={**UI_SPACE, "index_methods": ["Magic"]})
    assert "name" in await refused("/space/add", json={"name": "a/b"})
    data(await api.post(f"{V1}/space/add", json={"name": "docs"}))
    assert "already exists" in await refused("/space/add", 409, json={"name": "DOCS"})
    assert "URL documents are not supported" in await refused(
        "/docs/document/add", json={"doc_name": "u", "content": "http://127.0.0.1:5670/", "doc_type": "URL"}
    )
    assert "upload" in await refused(
        "/docs/document/add", json={"doc_name": "d", "content": "c", "doc_type": "DOCUMENT"}
    )
    assert "content" in await refused("/docs/document/add", json={"doc_name": "e", "content": "   "})
    assert "no knowledge space" in await refused("/nope/document/add", 404, json={"doc_name": "n", "content": "c"})
    data(await api.post(f"{V1}/docs/document/add", json={"doc_name": "same", "content": "c"}))
    assert "already has a document named" in await refused(
        "/docs/document/add", 409, json={"doc_name": "same", "content": "d"}
    )
    same_file = {"doc_file": ("same.txt", b"text", "text/plain")}
    assert "already has" in await refused("/docs/document/upload", 409, data={"doc_name": "same"}, files=same_file)
    assert "doc_file" in await refused("/docs/document/upload", data={"doc_name": "x", "doc_type": "DOCUMENT"})
    exe = {"doc_file": ("a.exe", b"MZ", "application/octet-stream")}
    assert "unsupported" in await refused("/docs/document/upload", data={"doc_name": "a.exe"}, files=exe)
    text_type = {"doc_name": "t", "doc_type": "TEXT"}
    assert "DOCUMENT" in await refused("/docs/document/upload", data=text_type, files={"doc_file": ("t.txt", b"t")})
    assert "list" in await refused("/docs/document/sync_batch", json={"doc_id": 1})
    await refused("/docs/document/sync_batch", json=[])
    await refused("/docs/document/sync_batch", content=b"[{", headers={"content-type": "application/json"})
    await refused("/docs/document/sync_batch", 404, json=[{"doc_id": 999}])
    data(await api.post(f"{V1}/space/add", json={"name": "other"}))
    foreign = data(await api.post(f"{V1}/other/document/add", json={"doc_name": "f", "content": "c"}))
    assert "no document" in await refused("/docs/document/sync_batch", 404, json=[{"doc_id": foreign}])
    assert "no document" in await refused("/docs/document/sync", 404, json={"doc_ids": [foreign]})
    assert "no document" in await refused("/docs/chunk/list", 404, json={"document_id": foreign})
    bad_chunks = {"doc_id": foreign, "chunk_parameters": {"chunk_strategy": "CHUNK_BY_SIZE", "chunk_size": 10}}
    await refused("/other/document/sync_batch", json=[bad_chunks])  # below the smallest chunk size
    for query in ({"page_size": 0}, {"page_size": 5000}, {"page": 0}, {"status": "DONE"}, {"doc_ids": ["x"]}):
        await refused("/docs/document/list", json=query)
    await refused("/docs/chunk/list", json={})
    await refused("/docs/document/delete", json={})
    assert "no document named" in await refused("/docs/document/delete", 404, json={"doc_name": "ghost"})
    await refused("/space/delete", 404, json={"name": "ghost"})
    await refused("/ghost/arguments", 404, json={})
    await refused(f"/{'x' * 200}/document/list", json={})
    await refused("/space/list", content=b"not json", headers={"content-type": "application/json"})
    assert (await api.post(f"{V2}/ghost/tools/ls-json", json={})).status_code == 404
    assert (await api.get(f"{V2}/ghost/stats")).status_code == 404
    assert (await api.post(f"{V2}/docs/tools/ls-json", json={"limit": 0})).status_code == 400
    assert data(await api.post(f"{V1}/space/list", json={"name": "ghost"})) == []


async def test_an_upload_over_the_size_limit_is_a_413(api: httpx.AsyncClient, knowledge_runtime: Runtime) -> None:
    knowledge_runtime.knowledge.documents.max_bytes = 1024 * 1024
    data(await api.post(f"{V1}/space/add", json={"name": "docs"}))
    big = {"doc_file": ("big.txt", b"word " * 500_000, "text/plain")}  # 2.5 MB
    response = await api.post(f"{V1}/docs/document/upload", data={"doc_name": "big.txt"}, files=big)
    assert response.status_code == 413 and response.json()["success"] is False
    assert data(await api.post(f"{V1}/docs/document/list", json={}))["total"] == 0


async def test_keys_are_needed(api: httpx.AsyncClient) -> None:
    calls = (("POST", f"{V1}/space/list"), ("GET", f"{V1}/space/config"), ("POST", f"{V1}/docs/document/list"),
             ("GET", f"{V2}/1/stats"))  # fmt: skip
    for method, path in calls:
        response = await api.request(method, path, json={}, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401 and response.json()["success"] is False, path
    del api.headers["Authorization"]
    for method, path in calls:
        assert (await api.request(method, path, json={})).status_code == 401, path
