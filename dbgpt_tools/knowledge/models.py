"""Knowledge spaces, documents and retrieved chunks as callers send and receive them, with DB-GPT's field names
(`SpaceModel`, `DocumentModel`): ids are integers, and a document's `space_id` is a string, as DB-GPT's client
declares it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from dbgpt_tools.json_types import MAX_ID, WHOLE_NUMBER, blank_means_absent, drop_blanks
from dbgpt_tools.knowledge.chunking import ChunkParameters
from dbgpt_tools.store.models import DocumentRow, SpaceRow


def _not_a_number(name: str) -> str:
    if name.isascii() and name.isdigit():
        raise ValueError("a space name cannot be all digits (a number names a space by its id)")
    return name


KnowledgeId = Annotated[int, Field(ge=1, le=MAX_ID), WHOLE_NUMBER]
SpaceName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[^\x00-\x20\x7f/\\<>\"'&][^\x00-\x1f\x7f/\\<>\"'&]*$",
        description="A unique space name: not all digits (a number names an id), no control characters, no "
        "/ \\ < > \" ' &.",
        json_schema_extra={"not": {"pattern": "^[0-9]+$"}},
    ),
    AfterValidator(_not_a_number),
]
T = TypeVar("T")
CONTENT_PREVIEW = 2000
"""Characters of a document's text returned with it (the whole text stays in the store)."""


def aware(moment: datetime) -> datetime:
    """A stored time with its zone (SQLite gives UTC times back without one)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class SpaceIn(BaseModel):
    """A knowledge space as callers create it."""

    model_config = ConfigDict(json_schema_extra=blank_means_absent, extra="ignore")

    name: SpaceName
    vector_type: Literal["Chroma"] = Field(default="Chroma", description="The vector store (Chroma).")
    desc: str = Field(default="", max_length=4096, description="What the space holds.")
    owner: str = Field(default="", max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$")
    context: str | None = Field(default=None, max_length=65536, description="Free-form arguments (DB-GPT's).")

    _nulls = model_validator(mode="before")(drop_blanks)


class SpaceUpdate(SpaceIn):
    """A space as callers update it: its id and every field."""

    id: KnowledgeId


class Space(BaseModel):
    """A knowledge space."""

    id: int
    name: str
    vector_type: str
    desc: str
    owner: str
    context: str | None
    domain_type: str = "Normal"
    document_count: int = 0
    gmt_created: datetime
    gmt_modified: datetime

    @classmethod
    def from_row(cls, row: SpaceRow, document_count: int = 0) -> Space:
        return cls(
            id=row.id,
            name=row.name,
            vector_type=row.vector_type,
            desc=row.desc,
            owner=row.owner,
            context=row.context,
            document_count=document_count,
            gmt_created=aware(row.created_at),
            gmt_modified=aware(row.updated_at),
        )


class DocumentStatus(StrEnum):
    """Where a document's ingestion stands (DB-GPT's names)."""

    TODO = "TODO"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"


class Progress(BaseModel):
    """Chunks embedded so far of a running ingestion."""

    done: int
    total: int


class Document(BaseModel):
    """A document of a space: what it is, and where its ingestion stands (`result` says why it failed)."""

    id: int
    doc_name: str
    doc_type: str
    doc_source: str
    space_id: str = Field(description="The space's id (a string, as DB-GPT's client reads it).")
    space: str = Field(description="The space's name.")
    content: str = Field(description=f"The document's text (its first {CONTENT_PREVIEW} characters).")
    status: DocumentStatus
    result: str = Field(description="Why the ingestion failed, or what it did.")
    chunk_size: int = Field(description="Searchable chunks (DB-GPT's name for the count).")
    progress: Progress
    chunk_parameters: ChunkParameters | None
    last_sync: datetime | None
    gmt_created: datetime
    gmt_modified: datetime

    @classmethod
    def from_row(cls, row: DocumentRow, space_name: str) -> Document:
        params = ChunkParameters.model_validate(row.chunk_parameters) if row.chunk_parameters else None
        return cls(
            id=row.id,
            doc_name=row.doc_name,
            doc_type=row.doc_type,
            doc_source=row.doc_source,
            space_id=str(row.space_id),
            space=space_name,
            content=row.content[:CONTENT_PREVIEW],
            status=DocumentStatus(row.status),
            result=row.result,
            chunk_size=row.chunk_count,
            progress=Progress(done=row.chunks_done, total=row.chunks_total),
            chunk_parameters=params,
            last_sync=aware(row.last_sync) if row.last_sync else None,
            gmt_created=aware(row.created_at),
            gmt_modified=aware(row.updated_at),
        )


class Page(BaseModel, Generic[T]):
    """One page of a list, as DB-GPT serves spaces and documents."""

    items: list[T]
    total_count: int
    total_pages: int
    page: int
    page_size: int


class SearchMode(StrEnum):
    """How chunks are found: by meaning, by words, or both fused by rank."""

    hybrid = "hybrid"
    vector = "vector"
    keyword = "keyword"


class RetrievedChunk(BaseModel):
    """A chunk found for a query: its text, where it comes from, and how well it matches."""

    chunk_id: str
    doc_id: int
    doc_name: str
    doc_type: str
    content: str
    score: float = Field(description="Cosine similarity of the chunk and the query (0..1 for related text).")
    rank_score: float = Field(description="The score the results are ordered by (the fused rank in hybrid mode).")
    index: int = Field(description="The chunk's position in its document.")
    page: int | None = None
    headers: list[str] = Field(default_factory=list, description="The section headers above the chunk.")
    start: int = Field(description="Character offset of the chunk in the document's text.")
    end: int


class StoredChunk(BaseModel):
    """A searchable chunk of a document, as stored: its text and where it sits in the document."""

    chunk_id: str
    doc_id: int
    index: int = Field(description="The chunk's position in its document, from 0.")
    content: str
    page: int | None = None
    headers: list[str] = Field(default_factory=list, description="The section headers above the chunk.")
    start: int = Field(description="Character offset of the chunk in the document's text.")
    end: int

    @classmethod
    def from_metadata(cls, chunk_id: str, content: str, metadata: dict[str, Any]) -> StoredChunk:
        """A chunk from what the vector store keeps beside its text."""
        headers = str(metadata.get("headers", ""))
        return cls(
            chunk_id=chunk_id,
            doc_id=int(metadata.get("doc_id", 0)),
            index=int(metadata.get("index", 0)),
            content=content,
            page=int(metadata["page"]) if "page" in metadata else None,
            headers=headers.split(" > ") if headers else [],
            start=int(metadata.get("start", 0)),
            end=int(metadata.get("end", 0)),
        )


class Retrieval(BaseModel):
    """The chunks retrieved for a query, best first."""

    space: str
    query: str
    mode: SearchMode
    chunks: list[RetrievedChunk]
