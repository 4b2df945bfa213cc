"""Knowledge operations: spaces, documents (added from a file or text, with ingestion progress), search with
citations, and questions answered from a space (chat_knowledge)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field, model_validator

from dbgpt_tools.chat.models import VISIBLE, ChatMode, ConvUid, ReferencesArtifact
from dbgpt_tools.chat.service import ChatService
from dbgpt_tools.knowledge.chunking import ChunkParameters
from dbgpt_tools.knowledge.models import (
    Document,
    KnowledgeId,
    Retrieval,
    RetrievedChunk,
    SearchMode,
    Space,
    SpaceIn,
)
from dbgpt_tools.knowledge.retrieval import MAX_TOP_K
from dbgpt_tools.knowledge.service import KnowledgeService
from dbgpt_tools.knowledge.sources import read_document_file
from dbgpt_tools.operations.base import AnyOperation, NoArgs, Operation, Progress
from dbgpt_tools.operations.chat import ChatArgs, chat
from dbgpt_tools.runtime import Runtime

SpaceRef = Field(
    min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$", description="The space's name, or its id."
)


class SpaceList(BaseModel):
    """The knowledge spaces."""

    spaces: list[Space]


async def list_spaces(knowledge: KnowledgeService, args: NoArgs, progress: Progress | None = None) -> SpaceList:
    """Every knowledge space (the first 1000)."""
    page = await asyncio.to_thread(knowledge.spaces.page, 1, 1000)
    return SpaceList(spaces=page.items)


async def create_space(knowledge: KnowledgeService, args: SpaceIn, progress: Progress | None = None) -> Space:
    """Create a knowledge space."""
    return await asyncio.to_thread(knowledge.spaces.create, args)


class AddDocumentArgs(BaseModel):
    """Arguments of `add_document`: a file path inside the document roots, or text."""

    space: str = SpaceRef
    path: str | None = Field(default=None, max_length=4096, description="A file inside DBGPT_DOCUMENT_ROOTS.")
    content: str | None = Field(default=None, pattern=VISIBLE, description="The document's text (instead of a path).")
    doc_name: str | None = Field(default=None, max_length=256, description="Its name (default: the file name).")
    chunk_parameters: ChunkParameters | None = Field(default=None, description="How to cut it into chunks.")
    wait: bool = Field(default=True, description="Wait until it is searchable (progress is reported meanwhile).")

    @model_validator(mode="after")
    def _one_source(self) -> AddDocumentArgs:
        if (self.path is None) == (self.content is None):
            raise ValueError("give either path or content")
        if self.content is not None and not self.doc_name:
            raise ValueError("doc_name is required with content")
        return self


async def add_document(
    knowledge: KnowledgeService, args: AddDocumentArgs, progress: Progress | None = None
) -> Document:
    """Add a document; with `wait`, return once it is searchable (or failed), reporting its chunks meanwhile."""
    if args.path is not None:
        source = await asyncio.to_thread(read_document_file, knowledge.settings, args.path)
        document = await asyncio.to_thread(
            knowledge.add_document,
            args.space,
            args.doc_name or source.name,
            file=source,
            chunk_parameters=args.chunk_parameters,
        )
    else:
        document = await asyncio.to_thread(
            knowledge.add_document,
            args.space,
            args.doc_name or "",
            content=args.content,
            chunk_parameters=args.chunk_parameters,
        )
    if not args.wait:
        return document

    async def report(done: int, total: int, status: str) -> None:
        if progress is not None:
            await progress(done, total or None, f"{status}: {done}/{total} chunks embedded")

    return await knowledge.wait(document.id, report)


class DocumentRef(BaseModel):
    """A document by id."""

    document_id: KnowledgeId = Field(description="The document's id.")


async def document_status(knowledge: KnowledgeService, args: DocumentRef, progress: Progress | None = None) -> Document:
    """A document and where its ingestion stands."""
    return await asyncio.to_thread(knowledge.documents.get, args.document_id)


async def delete_document(knowledge: KnowledgeService, args: DocumentRef, progress: Progress | None = None) -> Document:
    """Remove a document with its chunks."""
    return await asyncio.to_thread(knowledge.delete_document, args.document_id)


class SearchArgs(BaseModel):
    """Arguments of `search_knowledge`."""

    space: str = SpaceRef
    query: str = Field(min_length=1, max_length=4000, description="What to look for, in plain language.")
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K, description="How many chunks to return.")
    mode: SearchMode = Field(default=SearchMode.hybrid, description="hybrid (default), vector or keyword.")
    score_threshold: float = Field(default=0.0, ge=-1, le=1, description="Least cosine similarity to the query.")
    doc_ids: list[KnowledgeId] | None = Field(default=None, max_length=1000, description="Only these documents.")
    file_types: list[str] | None = Field(default=None, max_length=16, description="Only these types (pdf, md...).")


async def search_knowledge(
    knowledge: KnowledgeService, args: SearchArgs, progress: Progress | None = None
) -> Retrieval:
    """The chunks of a space that best match a query, with their sources."""
    return await asyncio.to_thread(
        knowledge.retriever.search,
        args.space,
        args.query,
        top_k=args.top_k,
        mode=args.mode,
        score_threshold=args.score_threshold,
        doc_ids=list(args.doc_ids) if args.doc_ids is not None else None,
        file_types=args.file_types,
    )


class AskKnowledgeArgs(BaseModel):
    """Arguments of `ask_knowledge`."""

    space: str = SpaceRef
    question: str = Field(min_length=1, max_length=100_000, description="A question about the space's documents.")
    conv_uid: ConvUid | None = Field(default=None, description="Continue this conversation.")


class KnowledgeAnswer(BaseModel):
    """A chat_knowledge answer and the chunks it was grounded in."""

    conv_uid: str
    answer: str
    references: list[RetrievedChunk] = Field(description="The cited chunks, best first (empty: nothing relevant).")


async def ask_knowledge(
    service: ChatService, args: AskKnowledgeArgs, progress: Progress | None = None
) -> KnowledgeAnswer:
    """Answer a question from a knowledge space's documents (chat_knowledge)."""
    question = ChatArgs(
        question=args.question, chat_mode=ChatMode.chat_knowledge, chat_param=args.space, conv_uid=args.conv_uid
    )
    result = await chat(service, question, progress)
    references = [chunk for a in result.artifacts if isinstance(a, ReferencesArtifact) for chunk in a.chunks]
    return KnowledgeAnswer(conv_uid=result.conv_uid, answer=result.content.strip(), references=references)


def _knowledge(runtime: Runtime) -> KnowledgeService:
    return runtime.knowledge


KNOWLEDGE_OPERATIONS: tuple[AnyOperation, ...] = (
    Operation(
        name="list_spaces",
        title="List knowledge spaces",
        description="List the knowledge spaces (document collections) with their document counts.",
        args_model=NoArgs,
        result_model=SpaceList,
        uses=_knowledge,
        run=list_spaces,
    ),
    Operation(
        name="create_space",
        title="Create knowledge space",
        description="Create a knowledge space: a named collection of documents to search and ask.",
        args_model=SpaceIn,
        result_model=Space,
        uses=_knowledge,
        run=create_space,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="add_document",
        title="Add document",
        description="Add a document to a knowledge space, from a file `path` (txt, md, html, pdf, docx, csv, xlsx, "
        "json; inside the server's document roots) or from `content` text with a `doc_name`. It is chunked and "
        "embedded; with wait=true (default) the call returns once it is searchable, reporting progress.",
        args_model=AddDocumentArgs,
        result_model=Document,
        uses=_knowledge,
        run=add_document,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="document_status",
        title="Document status",
        description="Show a document: its status (TODO, RUNNING, FINISHED, FAILED with the reason), progress and "
        "chunk count.",
        args_model=DocumentRef,
        result_model=Document,
        uses=_knowledge,
        run=document_status,
    ),
    Operation(
        name="search_knowledge",
        title="Search knowledge",
        description="Find the chunks of a knowledge space that best match a query (hybrid: meaning and keywords), "
        "each with its document, page, section and similarity score, for citing.",
        args_model=SearchArgs,
        result_model=Retrieval,
        uses=_knowledge,
        run=search_knowledge,
        returns_data=True,
    ),
    Operation(
        name="ask_knowledge",
        title="Ask a knowledge space",
        description="Answer a question from a knowledge space's documents, citing the chunks used; says so when "
        "the documents hold nothing relevant. Pass conv_uid to ask a follow-up.",
        args_model=AskKnowledgeArgs,
        result_model=KnowledgeAnswer,
        uses=lambda runtime: runtime.chat,
        run=ask_knowledge,
        read_only=False,
        idempotent=False,
        returns_data=True,
    ),
    Operation(
        name="delete_document",
        title="Delete document",
        description="Remove a document and its chunks from its knowledge space.",
        args_model=DocumentRef,
        result_model=Document,
        uses=_knowledge,
        run=delete_document,
        read_only=False,
        destructive=True,
    ),
)
