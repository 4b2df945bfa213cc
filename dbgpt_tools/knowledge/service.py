"""The knowledge service: spaces, documents, their ingestion and retrieval, wired together for the faces."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from dbgpt_tools.errors import DbgptError
from dbgpt_tools.knowledge.chunking import ChunkParameters
from dbgpt_tools.knowledge.documents import TEXT, DocumentRegistry, SourceFile
from dbgpt_tools.knowledge.embeddings import Embedder, embedder_from_settings
from dbgpt_tools.knowledge.ingestion import Ingestor
from dbgpt_tools.knowledge.keywords import KeywordIndex
from dbgpt_tools.knowledge.models import Document, DocumentStatus, Page, StoredChunk
from dbgpt_tools.knowledge.retrieval import Retriever
from dbgpt_tools.knowledge.spaces import SpaceRegistry
from dbgpt_tools.knowledge.vectors import VectorStore
from dbgpt_tools.settings import Settings
from dbgpt_tools.store.lookup import check_page
from dbgpt_tools.store.metadata import MetadataStore

log = logging.getLogger(__name__)
ProgressCallback = Callable[[int, int, str], Awaitable[None]]
POLL_S = 0.25
"""How often a caller waiting for an ingestion reads its progress from the store (any worker may be running it)."""


class KnowledgeService:
    """Everything knowledge, built from the settings; `start` begins the background ingestion work."""

    def __init__(self, settings: Settings, store: MetadataStore, embedder: Embedder | None = None) -> None:
        self.settings = settings
        root = settings.data_dir / "knowledge"
        self.embedder = embedder or embedder_from_settings(settings)
        self.vectors = VectorStore(root / "chroma", settings.chroma_url, self.embedder.model_name)
        self.keywords = KeywordIndex(root / "keywords")
        self.spaces = SpaceRegistry(store, self.vectors.location, self._forget_space)
        self.documents = DocumentRegistry(
            store, self.spaces, root / "files", settings.knowledge_max_file_mb * 1024 * 1024
        )
        self.retriever = Retriever(store, self.spaces, self.vectors, self.keywords, self.embedder)
        self.ingestor = Ingestor(
            store, self.documents, self.vectors, self.embedder, self._prepare, settings.knowledge_stale_after
        )

    def start(self) -> None:
        """Pick up documents left waiting or interrupted, then keep doing so in the background."""
        self.ingestor.start_sweeping()

    def add_document(
        self,
        space: str | int,
        doc_name: str,
        *,
        content: str | None = None,
        file: SourceFile | None = None,
        doc_source: str = "",
        chunk_parameters: ChunkParameters | None = None,
        ingest: bool = True,
        unique_name: bool = False,
    ) -> Document:
        """Add a document and queue its ingestion (`ingest=False`: it waits in TODO for a sync, as DB-GPT's v1 API
        has it, or for the server's next sweep of waiting documents; `unique_name`: see `DocumentRegistry.create`)."""
        document = self.documents.create(
            space,
            doc_name,
            content=content,
            file=file,
            doc_source=doc_source,
            chunk_parameters=chunk_parameters,
            unique_name=unique_name,
        )
        if ingest:
            self.ingestor.submit(document.id)
        return document

    def sync_document(self, key: int | str, chunk_parameters: ChunkParameters | None = None) -> Document:
        """Chunk and embed a document again (with new chunk parameters, if given)."""
        document = self.documents.sync(key, chunk_parameters)
        self.ingestor.submit(document.id)
        return document

    def delete_document(self, key: int | str) -> Document:
        """Remove a document with its chunks and file (the next search rebuilds the space's keyword index)."""
        document = self.documents.delete(key)
        self._drop_chunks(int(document.space_id), {"doc_id": document.id})
        return document

    def chunk_page(
        self, doc_id: int, page: int = 1, page_size: int = 20, contains: str | None = None
    ) -> Page[StoredChunk]:
        """One page of a document's searchable chunks, in order; `contains`: only those holding this text (whatever
        its case; the document's chunks are read once, keeping only the ids of those that match)."""
        check_page(page, page_size)
        row = self.documents.row(doc_id)
        first = (page - 1) * page_size
        if row.live_generation is None:
            return _chunks_page([], 0, page, page_size)
        live: list[dict[str, object]] = [{"doc_id": row.id}, {"generation": row.live_generation}]
        if contains:
            needle = contains.casefold()
            matching = sorted(
                (int(metadata.get("index", 0)), chunk_id)
                for chunk_id, text, metadata in self.vectors.chunks(row.space_id, {"$and": live})
                if needle in text.casefold()
            )
            wanted = [chunk_id for _, chunk_id in matching[first : first + page_size]]
            fetched = self.vectors.fetch(row.space_id, wanted)
            found = [(chunk_id, text, metadata) for chunk_id, (text, metadata, _) in fetched.items()]
            total = len(matching)
        else:
            window = [{"index": {"$gte": first}}, {"index": {"$lt": first + page_size}}]
            found = list(self.vectors.chunks(row.space_id, {"$and": live + window}))
            total = row.chunk_count
        chunks = sorted((StoredChunk.from_metadata(*chunk) for chunk in found), key=lambda chunk: chunk.index)
        return _chunks_page(chunks, total, page, page_size)

    def document_text(self, doc_id: int) -> str:
        """A document's text: a text document's as sent; a file's as its searchable chunks hold it (the white space
        between two chunks is read as a line break); empty before its first ingestion."""
        row = self.documents.row(doc_id)
        if row.doc_type == TEXT:
            return row.content
        if row.live_generation is None:
            return ""
        live = {"$and": [{"doc_id": row.id}, {"generation": row.live_generation}]}
        chunks = sorted(
            (StoredChunk.from_metadata(*chunk) for chunk in self.vectors.chunks(row.space_id, live)),
            key=lambda chunk: chunk.index,
        )
        parts: list[str] = []
        cursor = 0
        for chunk in chunks:
            if chunk.end <= cursor:
                continue
            if parts and chunk.start > cursor:
                parts.append("\n")
            parts.append(chunk.content[max(cursor - chunk.start, 0) :])
            cursor = chunk.end
        return "".join(parts)

    async def wait(self, doc_id: int, progress: ProgressCallback | None = None) -> Document:
        """The document once its ingestion has finished or failed, reporting (done, total, status) meanwhile."""
        reported = (-1, -1)
        while True:
            document = await asyncio.to_thread(self.documents.get, doc_id)
            done, total = document.progress.done, document.progress.total
            if progress is not None and (done, total) != reported:
                reported = (done, total)
                await progress(done, total, document.status.value)
            if document.status in (DocumentStatus.FINISHED, DocumentStatus.FAILED):
                return document
            await asyncio.sleep(POLL_S)

    def close(self) -> None:
        self.ingestor.close()

    def _prepare(self, space_id: int) -> None:
        try:
            self.retriever.prepare(space_id)
        except DbgptError:
            log.warning("the keyword index of space %s will be built by its next search", space_id, exc_info=True)

    def _forget_space(self, space_id: int, doc_ids: list[int]) -> None:
        self.vectors.drop(space_id)
        self.keywords.drop(space_id)
        self.documents.remove_files(doc_ids)

    def _drop_chunks(self, space_id: int, where: dict[str, object]) -> None:
        try:
            self.vectors.delete(space_id, where)
        except DbgptError:
            log.warning("chunks of space %s matching %s could not be removed", space_id, where, exc_info=True)


def _chunks_page(chunks: list[StoredChunk], total: int, page: int, page_size: int) -> Page[StoredChunk]:
    pages = math.ceil(total / page_size)
    return Page[StoredChunk](items=chunks, total_count=total, total_pages=pages, page=page, page_size=page_size)
