"""Ingestion: a document's text is read, chunked, embedded and stored as a new *generation* of its chunks, in the
background, with its progress in the store. Only when every chunk is stored does the generation become the live
(searchable) one, in one conditional update; the older generation is then removed. A server killed halfway leaves
chunks no search returns; whichever worker sees the document's heartbeat go stale marks it FAILED and removes them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Update, and_, select, update
from sqlalchemy.orm import Session

from dbgpt_tools.errors import DbgptError
from dbgpt_tools.knowledge.chunking import Chunk, ChunkParameters, split_sections
from dbgpt_tools.knowledge.documents import DocumentRegistry
from dbgpt_tools.knowledge.embeddings import Embedder
from dbgpt_tools.knowledge.loaders import Section, load_sections
from dbgpt_tools.knowledge.models import DocumentStatus
from dbgpt_tools.knowledge.vectors import VectorStore
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import DocumentRow, SpaceRow, utcnow

log = logging.getLogger(__name__)
BATCH = 32
INTERRUPTED = "interrupted: the server stopped while ingesting it; sync the document again"


def chunk_id(doc_id: int, generation: int, index: int) -> str:
    """A chunk's id in the vector store: its document, generation and position."""
    return f"d{doc_id}-g{generation}-{index}"


def chunk_metadata(row: DocumentRow, generation: int, chunk: Chunk) -> dict[str, str | int]:
    """What a chunk keeps beside its text, for filters and citations."""
    metadata: dict[str, str | int] = {
        "doc_id": row.id,
        "generation": generation,
        "doc_name": row.doc_name,
        "file_type": row.file_type,
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "headers": " > ".join(chunk.headers),
    }
    if chunk.page is not None:
        metadata["page"] = chunk.page
    return metadata


def still(doc_id: int, generation: int, status: DocumentStatus) -> Update:
    """An update of a document that applies only while it is at this generation and in this status (another worker
    or a re-sync may have moved it on)."""
    return update(DocumentRow).where(
        and_(DocumentRow.id == doc_id, DocumentRow.generation == generation, DocumentRow.status == status.value)
    )


def make_live(session: Session, space_id: int, doc_id: int, generation: int, count: int, was: DocumentStatus) -> bool:
    """Make a document's generation the searchable one (FINISHED, `count` chunks) and its space's keyword index
    stale, in the caller's transaction; False when the document moved on meanwhile."""
    done = session.execute(
        still(doc_id, generation, was).values(
            status=DocumentStatus.FINISHED.value,
            live_generation=generation,
            chunk_count=count,
            chunks_done=count,
            chunks_total=count,
            result=f"{count} chunks",
            last_sync=utcnow(),
            updated_at=utcnow(),
        )
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
        return False
    session.execute(
        update(SpaceRow).where(SpaceRow.id == space_id).values(keyword_generation=SpaceRow.keyword_generation + 1)
    )
    return True


class _Superseded(Exception):
    """The document was synced again or deleted while this ingestion ran."""


class Ingestor:
    """Runs ingestions one at a time on a background thread; `sweep` picks up documents nobody is working on."""

    def __init__(
        self,
        store: MetadataStore,
        documents: DocumentRegistry,
        vectors: VectorStore,
        embedder: Embedder,
        on_live: Callable[[int], None],
        stale_after: float,
    ) -> None:
        self._store = store
        self._documents = documents
        self._vectors = vectors
        self._embedder = embedder
        self._on_live = on_live
        self._stale_after = stale_after
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ingest")
        self._queued = 0  # ingestions submitted and not yet done: spaces are prepared when none is left
        self._changed: set[int] = set()
        self._guard = threading.Lock()
        self._stopping = threading.Event()
        self._sweeper: threading.Thread | None = None

    def submit(self, doc_id: int) -> Future[None]:
        """Queue a document's ingestion."""
        with self._guard:
            self._queued += 1
        return self._pool.submit(self._ingest_queued, doc_id)

    def _ingest_queued(self, doc_id: int) -> None:
        """Ingest, then, once the queue is empty, prepare the spaces that changed (their keyword index is rebuilt
        once for a batch of documents, not after each one)."""
        try:
            space_id = self.ingest(doc_id)
        finally:
            with self._guard:
                self._queued -= 1
                drained = self._queued == 0
        if space_id is not None:
            self._changed.add(space_id)
        if drained:
            while self._changed:
                self._on_live(self._changed.pop())

    def start_sweeping(self) -> None:
        """Sweep now and then every half `stale_after`, on a daemon thread."""

        def sweep_until_stopped() -> None:
            while True:
                try:
                    self.sweep()
                except Exception:
                    log.warning("sweeping the document queue failed", exc_info=True)
                if self._stopping.wait(self._stale_after / 2):
                    return

        self._sweeper = threading.Thread(target=sweep_until_stopped, name="ingest-sweeper", daemon=True)
        self._sweeper.start()

    def sweep(self) -> None:
        """Mark interrupted ingestions FAILED (removing their chunks) and queue documents waiting in TODO."""
        stale = utcnow() - timedelta(seconds=self._stale_after)
        with self._store.session() as session:
            interrupted = session.execute(
                select(DocumentRow.id, DocumentRow.space_id, DocumentRow.generation).where(
                    DocumentRow.status == DocumentStatus.RUNNING.value, DocumentRow.heartbeat_at < stale
                )
            ).all()
            waiting = session.scalars(
                select(DocumentRow.id).where(DocumentRow.status == DocumentStatus.TODO.value)
            ).all()
        for doc_id, space_id, generation in interrupted:
            if self._finish(doc_id, generation, DocumentStatus.RUNNING, DocumentStatus.FAILED, result=INTERRUPTED):
                self._drop_generation(space_id, doc_id, generation)
                log.warning("document %s: %s", doc_id, INTERRUPTED)
        for doc_id in waiting:
            self.submit(doc_id)

    def ingest(self, doc_id: int) -> int | None:
        """Ingest a document if it is waiting (TODO) and nobody else has claimed it; the space whose searchable
        chunks changed, if they did."""
        claimed = self._claim(doc_id)
        if claimed is None:
            return None
        row, generation = claimed
        try:
            chunks = self._chunks(row)
            self._documents.touch(doc_id, chunks_total=len(chunks), chunks_done=0, heartbeat_at=utcnow())
            for start in range(0, len(chunks), BATCH):
                batch = chunks[start : start + BATCH]
                vectors = self._embedder.embed([chunk.content for chunk in batch])
                self._vectors.add(
                    row.space_id,
                    [chunk_id(doc_id, generation, chunk.index) for chunk in batch],
                    vectors,
                    [chunk.content for chunk in batch],
                    [chunk_metadata(row, generation, chunk) for chunk in batch],
                )
                self._progress(doc_id, generation, start + len(batch))
            if not self._go_live(row.space_id, doc_id, generation, len(chunks)):
                raise _Superseded
        except _Superseded:
            self._drop_generation(row.space_id, doc_id, generation)
            return None
        except DbgptError as error:
            self._fail(row.space_id, doc_id, generation, error.message)
            return None
        except Exception:
            log.exception("document %s could not be ingested", doc_id)
            self._fail(row.space_id, doc_id, generation, "internal error while ingesting (see the server log)")
            return None
        self._vectors.delete(row.space_id, {"$and": [{"doc_id": doc_id}, {"generation": {"$ne": generation}}]})
        log.info("document %s ingested: %d chunks (generation %d)", doc_id, len(chunks), generation)
        return row.space_id

    def close(self) -> None:
        """Stop sweeping and drop queued ingestions (their documents stay TODO for the next start)."""
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _chunks(self, row: DocumentRow) -> list[Chunk]:
        with self._store.session() as session:
            space = session.get(SpaceRow, row.space_id)
            if space is not None:
                self._vectors.check_location(space.name, space.vector_store)
        path = self._documents.source_path(row)
        data = path.read_bytes() if path is not None else row.content.encode()
        sections: list[Section] = load_sections(data, row.file_type, max_bytes=10 * self._documents.max_bytes)
        params = ChunkParameters.model_validate(row.chunk_parameters or {})
        return split_sections(sections, row.file_type, params)

    def _claim(self, doc_id: int) -> tuple[DocumentRow, int] | None:
        with self._store.session() as session:
            row = session.get(DocumentRow, doc_id)
            if row is None or row.status != DocumentStatus.TODO.value:
                return None
            generation = row.generation
            claimed = session.execute(
                still(doc_id, generation, DocumentStatus.TODO).values(
                    status=DocumentStatus.RUNNING.value, heartbeat_at=utcnow(), result="", updated_at=utcnow()
                )
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult
                return None
            session.expunge(row)
        return row, generation

    def _progress(self, doc_id: int, generation: int, done: int) -> None:
        """Record progress and the heartbeat; stop when the document was synced again or deleted."""
        with self._store.engine.begin() as connection:
            moved = connection.execute(
                still(doc_id, generation, DocumentStatus.RUNNING).values(chunks_done=done, heartbeat_at=utcnow())
            )
        if moved.rowcount != 1:
            raise _Superseded

    def _go_live(self, space_id: int, doc_id: int, generation: int, count: int) -> bool:
        with self._store.session() as session:
            return make_live(session, space_id, doc_id, generation, count, DocumentStatus.RUNNING)

    def _fail(self, space_id: int, doc_id: int, generation: int, reason: str) -> None:
        self._finish(doc_id, generation, DocumentStatus.RUNNING, DocumentStatus.FAILED, result=reason)
        self._drop_generation(space_id, doc_id, generation)
        log.warning("document %s failed: %s", doc_id, reason)

    def _finish(self, doc_id: int, generation: int, was: DocumentStatus, now: DocumentStatus, result: str) -> bool:
        with self._store.engine.begin() as connection:
            changed = connection.execute(
                still(doc_id, generation, was).values(status=now.value, result=result, updated_at=utcnow())
            )
        return bool(changed.rowcount == 1)

    def _drop_generation(self, space_id: int, doc_id: int, generation: int) -> None:
        try:
            self._vectors.delete(space_id, {"$and": [{"doc_id": doc_id}, {"generation": generation}]})
        except DbgptError:
            log.warning("chunks of document %s generation %s stay until its next sync", doc_id, generation)
