"""Finding chunks for a query: by vector (Chroma), by keyword (BM25) or both fused by reciprocal rank, within the
space's live chunks (a document's chunks count once its ingestion has finished), filtered by document or file
type. Every result carries its cosine similarity to the query, which the score threshold applies to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.knowledge.embeddings import Embedder
from dbgpt_tools.knowledge.keywords import KeywordIndex
from dbgpt_tools.knowledge.models import Retrieval, RetrievedChunk, SearchMode
from dbgpt_tools.knowledge.spaces import SpaceRegistry
from dbgpt_tools.knowledge.vectors import VectorStore
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import DocumentRow, SpaceRow

RRF_K = 60
"""Reciprocal rank fusion's constant: a result at rank r adds 1 / (RRF_K + r)."""
CANDIDATES = 4
"""Each retriever's candidates per requested result, before fusion and filtering."""
MAX_TOP_K = 100
ATTEMPTS = 3
"""Searches tried while documents keep going live under them (a re-sync drops the chunks a search just read)."""
Found = tuple[str, dict[str, Any], float]
"""A candidate chunk's text, metadata and cosine similarity to the query."""


@dataclass(frozen=True)
class LiveDocument:
    doc_id: int
    generation: int
    doc_name: str
    file_type: str


def live_documents(store: MetadataStore, space_id: int) -> dict[int, LiveDocument]:
    """The space's documents whose chunks are searchable, with their live generation."""
    with store.session() as session:
        rows = session.execute(
            select(DocumentRow.id, DocumentRow.live_generation, DocumentRow.doc_name, DocumentRow.file_type).where(
                DocumentRow.space_id == space_id, DocumentRow.live_generation.is_not(None)
            )
        ).all()
    return {
        doc_id: LiveDocument(doc_id, generation, name, kind)
        for doc_id, generation, name, kind in rows
        if generation is not None
    }


def live_chunk_texts(vectors: VectorStore, space_id: int, live: dict[int, LiveDocument]) -> Iterator[tuple[str, str]]:
    """(id, text) of every live chunk of a space."""
    for chunk_id, text, metadata in vectors.chunks(space_id):
        document = live.get(int(metadata.get("doc_id", 0)))
        if document is not None and metadata.get("generation") == document.generation:
            yield chunk_id, text


class Retriever:
    """Searches a space's chunks."""

    def __init__(
        self,
        store: MetadataStore,
        spaces: SpaceRegistry,
        vectors: VectorStore,
        keywords: KeywordIndex,
        embedder: Embedder,
    ) -> None:
        self._store = store
        self._spaces = spaces
        self._vectors = vectors
        self._keywords = keywords
        self._embedder = embedder

    def search(
        self,
        space: str | int,
        query: str,
        *,
        top_k: int = 5,
        mode: SearchMode = SearchMode.hybrid,
        score_threshold: float = 0.0,
        doc_ids: list[int] | None = None,
        file_types: list[str] | None = None,
    ) -> Retrieval:
        """The `top_k` best chunks for `query` whose similarity reaches `score_threshold`, best first."""
        if not query.strip():
            raise InvalidInput("query is empty", field="query")
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidInput(f"top_k must be within 1..{MAX_TOP_K}, got {top_k}", field="top_k")
        mode = SearchMode(mode)
        for _ in range(ATTEMPTS):
            row = self._spaces.resolve(space)
            self._vectors.check_location(row.name, row.vector_store)
            every_live = live_documents(self._store, row.id)
            chunks = self._search_live(row, every_live, query, top_k, mode, score_threshold, doc_ids, file_types)
            if live_documents(self._store, row.id) == every_live:
                break  # no document went live (and dropped its older chunks) while searching: the result holds
        return Retrieval(space=row.name, query=query, mode=mode, chunks=chunks)

    def _search_live(
        self,
        row: SpaceRow,
        every_live: dict[int, LiveDocument],
        query: str,
        top_k: int,
        mode: SearchMode,
        score_threshold: float,
        doc_ids: list[int] | None,
        file_types: list[str] | None,
    ) -> list[RetrievedChunk]:
        """The best chunks among the documents live in `every_live`, filtered by document and file type."""
        live = {
            doc_id: document
            for doc_id, document in every_live.items()
            if (doc_ids is None or doc_id in doc_ids) and (file_types is None or document.file_type in file_types)
        }
        if not live:
            return []
        query_vector = self._embedder.embed([query])[0]
        wanted = top_k * CANDIDATES
        ranked: dict[str, float] = {}
        found: dict[str, Found] = {}
        if mode is not SearchMode.keyword:
            where = {"doc_id": {"$in": sorted(live)}} if doc_ids is not None or file_types is not None else None
            hits = [
                hit for hit in self._vectors.query(row.id, query_vector, wanted, where) if _is_live(hit.metadata, live)
            ]
            for rank, hit in enumerate(hits):
                ranked[hit.chunk_id] = ranked.get(hit.chunk_id, 0.0) + _fused(rank, hit.similarity, mode)
                found[hit.chunk_id] = (hit.text, hit.metadata, hit.similarity)
        if mode is not SearchMode.vector:
            keyword_hits = self._keyword_hits(row, query, wanted, live, every_live)
            for rank, (chunk_id, score) in enumerate(keyword_hits):
                ranked[chunk_id] = ranked.get(chunk_id, 0.0) + _fused(rank, score, mode)
            self._fill(row.id, [chunk_id for chunk_id, _ in keyword_hits if chunk_id not in found], query_vector, found)
        order = sorted(ranked, key=lambda chunk_id: ranked[chunk_id], reverse=True)
        chunks = [
            _chunk(chunk_id, *found[chunk_id], ranked[chunk_id], live)
            for chunk_id in order
            if chunk_id in found and found[chunk_id][2] >= score_threshold
        ]
        return chunks[:top_k]

    def prepare(self, space_id: int) -> None:
        """Build the space's keyword index for its current generation (after its chunks changed)."""
        with self._store.session() as session:
            row = session.get(SpaceRow, space_id)
            if row is None:
                return
            generation = row.keyword_generation
        live = live_documents(self._store, space_id)
        self._keywords.build(space_id, generation, lambda: live_chunk_texts(self._vectors, space_id, live))

    def _keyword_hits(
        self,
        row: SpaceRow,
        query: str,
        wanted: int,
        live: dict[int, LiveDocument],
        every_live: dict[int, LiveDocument],
    ) -> list[tuple[str, float]]:
        """Keyword hits among `live` (the filtered documents); the index covers every live document."""
        hits = self._keywords.search(
            row.id,
            row.keyword_generation,
            query,
            wanted * 2,
            lambda: live_chunk_texts(self._vectors, row.id, every_live),
        )
        return [(chunk_id, score) for chunk_id, score in hits if _id_is_live(chunk_id, live)][:wanted]

    def _fill(
        self,
        space_id: int,
        ids: list[str],
        query_vector: list[float],
        found: dict[str, Found],
    ) -> None:
        """Text, metadata and similarity of chunks only the keyword index found."""
        for chunk_id, (text, metadata, vector) in self._vectors.fetch(space_id, ids).items():
            found[chunk_id] = (text, metadata, sum(a * b for a, b in zip(vector, query_vector, strict=True)))


def _fused(rank: int, score: float, mode: SearchMode) -> float:
    """What a result at `rank` with `score` adds to its ranking score: its reciprocal rank when fusing."""
    return 1 / (RRF_K + rank + 1) if mode is SearchMode.hybrid else score


def _is_live(metadata: dict[str, Any], live: dict[int, LiveDocument]) -> bool:
    document = live.get(int(metadata.get("doc_id", 0)))
    return document is not None and metadata.get("generation") == document.generation


def _id_is_live(chunk_id: str, live: dict[int, LiveDocument]) -> bool:
    doc, generation, _ = chunk_id.split("-", 2)
    document = live.get(int(doc[1:]))
    return document is not None and document.generation == int(generation[1:])


def _chunk(
    chunk_id: str,
    text: str,
    metadata: dict[str, Any],
    similarity: float,
    rank_score: float,
    live: dict[int, LiveDocument],
) -> RetrievedChunk:
    document = live[int(metadata["doc_id"])]
    headers = str(metadata.get("headers", ""))
    return RetrievedChunk(
        chunk_id=chunk_id,
        doc_id=document.doc_id,
        doc_name=document.doc_name,
        doc_type=document.file_type,
        content=text,
        score=round(similarity, 6),
        rank_score=round(rank_score, 6),
        index=int(metadata.get("index", 0)),
        page=int(metadata["page"]) if "page" in metadata else None,
        headers=headers.split(" > ") if headers else [],
        start=int(metadata.get("start", 0)),
        end=int(metadata.get("end", 0)),
    )
