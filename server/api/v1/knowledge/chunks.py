"""DB-GPT's v1 calls about how a space is cut and searched: the chunk strategies, the retrieve strategies, a
space's arguments and a page of a document's chunks."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.chat.modes.knowledge import RELEVANT, TOP_K
from dbgpt_tools.chat.prompts import KNOWLEDGE_SYSTEM
from dbgpt_tools.knowledge.chunking import ChunkParameters, ChunkStrategy
from dbgpt_tools.knowledge.loaders import FORMATS
from dbgpt_tools.knowledge.models import Document, KnowledgeId, StoredChunk
from dbgpt_tools.knowledge.service import KnowledgeService
from dbgpt_tools.store.lookup import MAX_PAGE_SIZE
from server.api.v1.knowledge.common import BASE, IN_SPACE, SPACE_NAME, documents_of, space_ref
from server.api.v2.knowledge.common import knowledge_service
from server.openapi import Endpoint, Handler
from server.requests import json_body, parse_body
from server.responses import envelope


class StrategyParameter(BaseModel):
    param_name: str
    param_type: Literal["int", "string", "boolean"]
    default_value: int | str | bool
    description: str


class ChunkStrategyInfo(BaseModel):
    """A way of cutting documents into chunks, with the parameters it reads, the file extensions (`suffix`) and
    document types it suits."""

    strategy: ChunkStrategy
    name: str
    description: str
    parameters: list[StrategyParameter]
    suffix: list[str]
    type: list[str]


class ChunkStrategies(RootModel[list[ChunkStrategyInfo]]):
    """The chunk strategies (the UI adds Automatic itself)."""


class SpaceArguments(RootModel[dict[str, Any]]):
    """How the space is searched and asked (DB-GPT's space arguments: `embedding`, `prompt`), or the JSON object
    stored as the space's `context`."""


class RetrieveStrategy(BaseModel):
    name: str
    name_cn: str
    value: str


class RetrieveStrategies(RootModel[list[RetrieveStrategy]]):
    """How chunks can be found: by meaning, by words, or both (the default)."""


class ChunkQuery(BaseModel):
    """A page of a document's chunks (DB-GPT's `ChunkQueryRequest`); `content`: only chunks holding this text."""

    model_config = ConfigDict(extra="ignore")

    document_id: KnowledgeId
    content: str | None = Field(default=None, max_length=1000)
    page: int = Field(default=1, ge=1, le=999_999_999)
    page_size: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


class ChunkResponse(BaseModel):
    """A chunk as DB-GPT lists them (`ChunkServeResponse`); `meta_info` is its position, as JSON."""

    id: str
    document_id: int
    doc_name: str
    doc_type: str
    content: str
    meta_info: str
    gmt_created: datetime | None
    gmt_modified: datetime | None

    @classmethod
    def of(cls, chunk: StoredChunk, document: Document) -> ChunkResponse:
        position = chunk.model_dump(include={"index", "page", "headers", "start", "end"})
        return cls(
            id=chunk.chunk_id,
            document_id=chunk.doc_id,
            doc_name=document.doc_name,
            doc_type=document.doc_type,
            content=chunk.content,
            meta_info=json.dumps(position, ensure_ascii=False),
            gmt_created=document.last_sync,
            gmt_modified=document.last_sync,
        )


class ChunkQueryResponse(BaseModel):
    """A page of chunks."""

    data: list[ChunkResponse]
    total: int
    page: int


_SIZE = ("chunk_size", "chunk_overlap")
_STRATEGIES: dict[ChunkStrategy, tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    ChunkStrategy.CHUNK_BY_SIZE: (
        "chunk size",
        "Chunks of at most chunk_size characters, cut where the text allows, chunk_overlap repeated.",
        _SIZE,
        FORMATS,
        ("DOCUMENT", "TEXT"),
    ),
    ChunkStrategy.CHUNK_BY_PAGE: (
        "page",
        "A chunk per PDF page or worksheet (cut at 8192 characters).",
        (),
        ("pdf", "xlsx"),
        ("DOCUMENT",),
    ),
    ChunkStrategy.CHUNK_BY_PARAGRAPH: (
        "paragraph",
        "A chunk per paragraph (text between blank lines); a longer one is cut by size.",
        _SIZE,
        ("txt", "md", "html", "pdf", "docx"),
        ("DOCUMENT", "TEXT"),
    ),
    ChunkStrategy.CHUNK_BY_SEPARATOR: (
        "separator",
        "A chunk per piece between separators (joined while they fit, with enable_merge); a longer one is cut by size.",
        ("separator", "enable_merge", *_SIZE),
        FORMATS,
        ("DOCUMENT", "TEXT"),
    ),
    ChunkStrategy.CHUNK_BY_MARKDOWN_HEADER: (
        "markdown header",
        "A chunk per section under a markdown header (md, html and docx have them); a longer one is cut by size.",
        _SIZE,
        ("md", "html", "docx"),
        ("DOCUMENT", "TEXT"),
    ),
}
_PARAM_TYPES: dict[type, Literal["int", "string", "boolean"]] = {int: "int", str: "string", bool: "boolean"}
_RETRIEVE_STRATEGIES = [
    RetrieveStrategy(name="SEMANTIC", name_cn="语义检索", value="SEMANTIC"),
    RetrieveStrategy(name="KEYWORD", name_cn="全文检索", value="KEYWORD"),
    RetrieveStrategy(name="HYBRID", name_cn="混合检索", value="HYBRID"),
]


def chunk_strategies() -> list[ChunkStrategyInfo]:
    """The strategies with the parameters of ChunkParameters each one reads, their defaults and descriptions."""
    fields = ChunkParameters.model_fields
    return [
        ChunkStrategyInfo(
            strategy=strategy,
            name=name,
            description=description,
            parameters=[
                StrategyParameter(
                    param_name=param,
                    param_type=_PARAM_TYPES[type(fields[param].default)],
                    default_value=fields[param].default,
                    description=fields[param].description or "",
                )
                for param in params
            ],
            suffix=list(suffix),
            type=list(types),
        )
        for strategy, (name, description, params, suffix, types) in _STRATEGIES.items()
    ]


async def list_chunk_strategies(request: Request) -> Response:
    return await envelope(chunk_strategies())


async def space_arguments(request: Request) -> Response:
    knowledge = knowledge_service(request)
    space = await asyncio.to_thread(knowledge.spaces.resolve, space_ref(request))
    return await envelope(_arguments(space.context, knowledge, request.app.state.runtime.settings.max_new_tokens))


def _arguments(context: str | None, knowledge: KnowledgeService, max_tokens: int) -> dict[str, Any]:
    """The space's stored arguments (a JSON object), or how it is searched and asked here."""
    try:
        stored = json.loads(context) if context else None
    except ValueError:
        stored = None
    if isinstance(stored, dict):
        return stored
    chunking = ChunkParameters()
    embedding = {
        "topk": TOP_K,
        "recall_score": RELEVANT,
        "recall_type": "TopK",
        "model": knowledge.embedder.model_name,
        "chunk_size": chunking.chunk_size,
        "chunk_overlap": chunking.chunk_overlap,
        "retrieve_mode": "HYBRID",
    }
    return {"embedding": embedding, "prompt": {"max_token": max_tokens, "template": KNOWLEDGE_SYSTEM}}


async def retrieve_strategies(request: Request) -> Response:
    await json_body(request, allow_empty=True)
    return await envelope(_RETRIEVE_STRATEGIES)


async def list_chunks(request: Request) -> Response:
    query = await parse_body(request, ChunkQuery)
    knowledge = knowledge_service(request)
    [document] = await asyncio.to_thread(documents_of, knowledge, space_ref(request), [query.document_id])
    found = await asyncio.to_thread(knowledge.chunk_page, document.id, query.page, query.page_size, query.content)
    chunks = [ChunkResponse.of(chunk, document) for chunk in found.items]
    return await envelope(ChunkQueryResponse(data=chunks, total=found.total_count, page=found.page))


CHUNK_ROUTES: list[tuple[Endpoint, Handler]] = [
    (
        Endpoint(
            "GET",
            BASE + "/document/chunkstrategies",
            "The chunk strategies and their parameters",
            response=ChunkStrategies,
            enveloped=True,
        ),
        list_chunk_strategies,
    ),
    (
        Endpoint(
            "POST",
            BASE + "/retrieve_strategy_list",
            "How chunks can be found",
            response=RetrieveStrategies,
            enveloped=True,
        ),
        retrieve_strategies,
    ),
    (
        Endpoint(
            "POST",
            IN_SPACE + "/arguments",
            "How the space is searched and asked",
            params=(SPACE_NAME,),
            response=SpaceArguments,
            enveloped=True,
        ),
        space_arguments,
    ),
    (
        Endpoint(
            "POST",
            IN_SPACE + "/chunk/list",
            "A page of a document's chunks",
            params=(SPACE_NAME,),
            body=ChunkQuery,
            response=ChunkQueryResponse,
            enveloped=True,
        ),
        list_chunks,
    ),
]
