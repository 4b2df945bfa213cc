"""Knowledge past one process: Chroma in server mode (a real `chroma run`), two server workers sharing the
metadata store and that Chroma server, and a server killed in the middle of an ingestion."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.knowledge.vectors import chroma_client, collection_name
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.fake_openai import FakeOpenAI
from tests.knowledge.chroma_server import chroma_server
from tests.live import live_server, server_process

AUTH = {"Authorization": "Bearer k1"}
DOCUMENTS = "/api/v2/serve/knowledge/documents"
SPACES = "/api/v2/serve/knowledge/spaces"
GUIDE = "# Ports\n\nThe server listens on port 5670.\n\n# Keys\n\nAPI keys travel as Bearer tokens."


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    with chroma_server(tmp_path / "chroma") as url:
        yield url


def status_of(url: str, doc_id: int, wanted: tuple[str, ...], seconds: float = 300) -> dict[str, Any]:
    """The document once its status is one of `wanted` (read as a client would; the deadline is a safety net)."""
    deadline = time.monotonic() + seconds
    while True:
        document: dict[str, Any] = httpx.get(f"{url}{DOCUMENTS}/{doc_id}", headers=AUTH, timeout=30).json()["data"]
        if document["status"] in wanted or time.monotonic() > deadline:
            return document
        time.sleep(0.1)


def test_vectors_live_on_a_chroma_server(settings: Settings, embedder: LocalEmbedder, chroma_url: str) -> None:
    runtime = Runtime(settings.model_copy(update={"chroma_url": chroma_url}), embedder=embedder)
    try:
        knowledge = runtime.knowledge
        space = knowledge.spaces.create({"name": "docs"})
        document = knowledge.add_document("docs", "guide.md", content=GUIDE)
        assert asyncio.run(knowledge.wait(document.id)).status == "FINISHED"
        server = chroma_client(Path("unused"), chroma_url)
        assert server.get_collection(collection_name(space.id)).count() == 2  # on the server, not in the data dir
        assert not (settings.data_dir / "knowledge" / "chroma").exists()
        found = knowledge.retriever.search("docs", "which port?", top_k=1)
        assert "5670" in found.chunks[0].content
        knowledge.spaces.delete(space.id)
        assert collection_name(space.id) not in [c.name for c in server.list_collections()]
    finally:
        runtime.close()


def test_a_document_added_through_one_worker_is_found_by_another(tmp_path: Path, chroma_url: str) -> None:
    fake = FakeOpenAI()
    with ExitStack() as stack:
        upstream = stack.enter_context(live_server(fake.app))
        shared = {
            "DBGPT_METADATA_URL": f"sqlite:///{tmp_path / 'shared.db'}",
            "DBGPT_CHROMA_URL": chroma_url,
            "DBGPT_API_KEYS": "k1",
            "DBGPT_LLM_BACKEND": "openai",
            "DBGPT_LLM_BASE_URL": f"{upstream}/v1",
            "DBGPT_SAMPLE_DB": "false",
        }
        first, _ = stack.enter_context(server_process({**shared, "DBGPT_DATA_DIR": str(tmp_path / "a")}))
        second, _ = stack.enter_context(server_process({**shared, "DBGPT_DATA_DIR": str(tmp_path / "b")}))
        httpx.post(f"{first}{SPACES}", json={"name": "docs"}, headers=AUTH, timeout=30).raise_for_status()
        files = {"doc_file": ("guide.md", GUIDE.encode())}
        created = httpx.post(f"{first}{DOCUMENTS}", data={"space_id": "docs"}, files=files, headers=AUTH, timeout=30)
        doc_id = created.json()["data"]["id"]
        assert status_of(second, doc_id, ("FINISHED", "FAILED"))["status"] == "FINISHED"
        for mode in ("keyword", "vector", "hybrid"):  # the second worker builds its keyword index from Chroma
            recall = httpx.post(f"{second}{SPACES}/docs/retrieve", json={"query": "port", "mode": mode},
                                headers=AUTH, timeout=30).json()["data"]  # fmt: skip
            assert "5670" in recall["chunks"][0]["content"], mode
        assert (tmp_path / "b" / "knowledge" / "keywords").is_dir()


def test_a_server_killed_while_ingesting_leaves_nothing_searchable(tmp_path: Path) -> None:
    text = "\n\n".join(f"Paragraph {i}: the heron fishes in pond number {i} at dawn." for i in range(6000))
    env = {"DBGPT_DATA_DIR": str(tmp_path / "data"), "DBGPT_API_KEYS": "k1", "DBGPT_SAMPLE_DB": "false",
           "DBGPT_WARM_UP": "false", "DBGPT_KNOWLEDGE_STALE_AFTER": "6"}  # fmt: skip
    with server_process(env) as (url, pid):
        httpx.post(f"{url}{SPACES}", json={"name": "docs"}, headers=AUTH, timeout=30).raise_for_status()
        done = httpx.post(f"{url}{DOCUMENTS}", json={"doc_name": "small.txt", "content": "Kestrels hover.",
                          "space_id": "docs"}, headers=AUTH, timeout=30).json()["data"]  # fmt: skip
        assert status_of(url, done["id"], ("FINISHED", "FAILED"))["status"] == "FINISHED"
        big = httpx.post(f"{url}{DOCUMENTS}", json={"doc_name": "big.txt", "content": text, "space_id": "docs"},
                         headers=AUTH, timeout=30).json()["data"]  # fmt: skip
        running = status_of(url, big["id"], ("RUNNING", "FINISHED", "FAILED"))
        while running["status"] == "RUNNING" and running["progress"]["done"] == 0:  # until some chunks are stored
            time.sleep(0.05)
            running = status_of(url, big["id"], ("RUNNING", "FINISHED", "FAILED"))
        assert running["status"] == "RUNNING" and 0 < running["progress"]["done"] < running["progress"]["total"]
        os.kill(pid, signal.SIGKILL)
    with server_process(env) as (url, _):
        failed = status_of(url, big["id"], ("FAILED", "FINISHED"))
        assert failed["status"] == "FAILED" and "interrupted" in failed["result"] and failed["chunk_size"] == 0
        recall = httpx.post(f"{url}{SPACES}/docs/retrieve", json={"query": "heron pond dawn", "top_k": 20},
                            headers=AUTH, timeout=30).json()["data"]  # fmt: skip
        assert {chunk["doc_name"] for chunk in recall["chunks"]} <= {"small.txt"}
    runtime = Runtime(Settings(data_dir=tmp_path / "data", sample_db=False, sample_space=False))
    try:  # looking into Chroma itself: none of the big document's chunks is left
        assert runtime.knowledge.vectors.count(1, {"doc_id": big["id"]}) == 0
        assert runtime.knowledge.vectors.count(1) == 1
    finally:
        runtime.close()


def test_servers_sharing_a_store_but_not_chroma_say_so(tmp_path: Path, embedder: LocalEmbedder) -> None:
    from dbgpt_tools.errors import Conflict

    shared = Settings(metadata_url=f"sqlite:///{tmp_path / 'shared.db'}", sample_db=False, sample_space=False)
    first = Runtime(shared.model_copy(update={"data_dir": tmp_path / "a"}), embedder=embedder)
    second = Runtime(shared.model_copy(update={"data_dir": tmp_path / "b"}), embedder=embedder)
    try:
        first.knowledge.spaces.create({"name": "docs"})
        document = first.knowledge.add_document("docs", "g.md", content=GUIDE)
        assert asyncio.run(first.knowledge.wait(document.id)).status == "FINISHED"
        with pytest.raises(Conflict, match="must share one Chroma server"):
            second.knowledge.retriever.search("docs", "port")
        other = second.knowledge.add_document("docs", "h.md", content=GUIDE)
        failed = asyncio.run(second.knowledge.wait(other.id))
        assert failed.status == "FAILED" and "DBGPT_CHROMA_URL" in failed.result
    finally:
        first.close()
        second.close()
