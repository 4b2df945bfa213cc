"""Putting documents into a space and waiting until every one is searchable, for the knowledge benchmarks."""

from __future__ import annotations

import asyncio
import time

from dbgpt_tools.knowledge.chunking import ChunkParameters
from dbgpt_tools.knowledge.models import DocumentStatus
from dbgpt_tools.knowledge.service import KnowledgeService


def ingest_all(
    knowledge: KnowledgeService, space_id: int, texts: dict[str, str], params: ChunkParameters | None = None
) -> tuple[int, float]:
    """Every text as a document of the space; (chunks, seconds until the last one is FINISHED). A failed document
    ends the benchmark."""
    started = time.perf_counter()
    added = [
        knowledge.add_document(space_id, name, content=text, chunk_parameters=params) for name, text in texts.items()
    ]

    async def wait_all() -> int:
        total = 0
        for document in added:
            done = await knowledge.wait(document.id)
            if done.status is not DocumentStatus.FINISHED:
                raise SystemExit(f"{done.doc_name} failed: {done.result}")
            total += done.chunk_size
        return total

    total = asyncio.run(wait_all())
    return total, time.perf_counter() - started
