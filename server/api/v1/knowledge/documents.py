"""`/api/v1/knowledge/*`: DB-GPT's v1 knowledge calls (spaces, documents, sync) over the knowledge core.

Spaces are addressed by name in the path, as DB-GPT's web UI does (an id works too). As in DB-GPT, a document added
here waits in TODO until a sync (`sync_batch`) chooses how it is cut into chunks; a server left running ingests it
anyway on its next sweep of waiting documents. A document's name is unique within its space, since the UI deletes
documents by name. What DB-GPT stores but nothing here would use is refused when asked for (knowledge graphs,
domains other than Normal, URL documents) or ignored (a text document's `questions`).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.chat.models import VISIBLE
from dbgpt_tools.chat.modes.knowledge import RELEVANT, TOP_K
from dbgpt_tools.chat.prompts import KNOWLEDGE_SYSTEM
from dbgpt_tools.errors import Conflict, InvalidInput, NotFound, validated
from dbgpt_tools.knowledge.chunking import MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, ChunkParameters, ChunkStrategy
from dbgpt_tools.knowledge.documents import SourceFile
from dbgpt_tools.knowledge.loaders import FORMATS
from dbgpt_tools.knowledge.models import Document, DocumentStatus, KnowledgeId, Space, SpaceIn, StoredChunk
from dbgpt_tools.knowledge.service import KnowledgeService
from dbgpt_tools.store.lookup import MAX_PAGE_SIZE
from server.api.v2.knowledge import (
    INDEX_METHODS,
    SyncItem,
    document_fields,
    knowledge_service,
    no_url_documents,
    synced,
)
from server.openapi import Endpoint, Handler, Param
from server.requests import json_body, parse_body
from server.responses import envelope

BASE = "/api/v1/knowledge"
MAX_IDS = 1000
SUPPORTED_STORAGE = ("VectorStore", "FullText", "Chroma")
"""The `vector_type`s a new space may ask for: each gets what every space has, vectors and full-text search."""


class SpaceAdd(SpaceIn):
    """A space as DB-GPT's web UI creates it (`KnowledgeSpaceRequest`)."""

    vector_type: Literal["VectorStore", "FullText", "Chroma"] | None = Field(  # type: ignore[assignment]
        default=None, description="VectorStore (or FullText, Chroma): every space has both indexes (Chroma)."
    )
    domain_type: Literal["Normal"] | None = Field(default=None, description="Only Normal spaces exist here.")
    index_methods: list[Literal["VectorStore", "FullText", "KnowledgeGraph"]] | None = Field(
        default=None, max_length=8, description="Every space has VectorStore and FullText; KnowledgeGraph is ignored."
    )

    @field_validator("vector_type", mode="before")
    @classmethod
    def _supported(cls, value: object) -> object:
        if isinstance(value, str) and value and value not in SUPPORTED_STORAGE:
            raise ValueError(f"storage {value[:40]!r} is not supported: spaces use VectorStore (with FullText)")
        return value


class SpaceQuery(BaseModel):
    """Which spaces to list: all, or the one with this name or id."""

    model_config = ConfigDict(extra="ignore")

    id: KnowledgeId | None = None
    name: str | None = Field(default=None, max_length=128)


class SpaceName(BaseModel):
    """The space to delete."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=128)


class SpaceResponse(BaseModel):
    """A space as DB-GPT's v1 API lists it (`SpaceQueryResponse`); `docs` counts its documents."""

    id: int
    name: str
    vector_type: str
    index_methods: list[str]
    domain_type: str
    desc: str
    context: str | None
    owner: str
    gmt_created: datetime
    gmt_modified: datetime
    docs: int

    @classmethod
    def of(cls, space: Space) -> SpaceResponse:
        fields = space.model_dump(include={"id", "name", "vector_type", "domain_type", "desc", "context", "owner"})
        times = {"gmt_created": space.gmt_created, "gmt_modified": space.gmt_modified}
        return cls(**fields, **times, index_methods=INDEX_METHODS, docs=space.document_count)


class SpaceList(RootModel[list[SpaceResponse]]):
    """The spaces (the first 1000, by id)."""


class DomainType(BaseModel):
    name: str
    desc: str


class StorageType(BaseModel):
    name: str
    desc: str
    domain_types: list[DomainType]


class SpaceConfig(BaseModel):
    """The kinds of space that can be created (DB-GPT's `KnowledgeConfigResponse`)."""

    storage: list[StorageType]


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


class TextDocument(BaseModel):
    """A text document as DB-GPT's web UI adds it (`KnowledgeDocumentRequest`)."""

    model_config = ConfigDict(extra="ignore")

    doc_name: str = Field(default="", max_length=256)
    doc_type: Literal["TEXT"] | None = Field(default=None, description="TEXT (URL documents are not supported).")
    content: str = Field(pattern=VISIBLE, description="The document's text.")
    source: str | None = Field(default=None, max_length=64, description="Where the text comes from (a label).")
    questions: list[str] | None = Field(default=None, max_length=100, description="Ignored.")

    @field_validator("doc_type", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if isinstance(value, str) and value not in ("", "TEXT"):
            no_url_documents(value)
            raise ValueError("this route adds TEXT documents: upload files through /document/upload")
        return value


class UploadForm(BaseModel):
    """The form fields of an upload (the file comes as `doc_file`)."""

    model_config = ConfigDict(extra="ignore")

    doc_name: str = Field(default="", max_length=256, description="Its name (default: the file's name).")
    doc_type: Literal["DOCUMENT"] = "DOCUMENT"

    @field_validator("doc_type", mode="before")
    @classmethod
    def _document(cls, value: object) -> object:
        if isinstance(value, str) and value not in ("", "DOCUMENT"):
            raise ValueError("uploads are DOCUMENT documents: send text to /document/add")
        return value


class Upload(UploadForm):
    """An upload as the route documents it: the form fields and the file, whose type its name's extension tells
    (txt, md, html, pdf, docx, csv, xlsx, json)."""

    doc_file: bytes = Field(description="The file.")


class SyncBatch(RootModel[list[SyncItem]]):
    """Documents to chunk and embed (`{doc_id, chunk_parameters}` each; DB-GPT's `KnowledgeSyncRequest`)."""

    root: list[SyncItem] = Field(min_length=1, max_length=MAX_IDS)


class SyncTasks(BaseModel):
    """The documents queued (DB-GPT calls them tasks)."""

    tasks: list[int]


class DocumentSync(BaseModel):
    """Documents to sync again (DB-GPT's `DocumentSyncRequest`): with chunk_size or chunk_overlap, cut
    Automatically with them; otherwise as before."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    doc_ids: list[KnowledgeId] = Field(min_length=1, max_length=MAX_IDS)
    chunk_size: int | None = Field(default=None, ge=MIN_CHUNK_SIZE, le=MAX_CHUNK_SIZE)
    chunk_overlap: int | None = Field(default=None, ge=0, description="Smaller than chunk_size.")


class DocumentIdList(RootModel[list[int]]):
    """The documents queued."""


class DocumentId(RootModel[int]):
    """The document's id."""


class DocumentQuery(BaseModel):
    """Which documents of the space to list (DB-GPT's `DocumentQueryRequest`): those with `doc_ids` (all of them),
    or a page of those whose name holds `doc_name`, in `status`, of `doc_type`."""

    model_config = ConfigDict(extra="ignore")

    doc_ids: list[KnowledgeId] | None = Field(default=None, max_length=MAX_IDS)
    doc_name: str | None = Field(default=None, max_length=256)
    doc_type: str | None = Field(default=None, max_length=16)
    status: DocumentStatus | None = None
    page: int = Field(default=1, ge=1, le=999_999_999)
    page_size: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


class DocumentQueryResponse(BaseModel):
    """A page of documents."""

    data: list[Document]
    total: int
    page: int


class DocumentName(BaseModel):
    """The document to delete."""

    model_config = ConfigDict(extra="ignore")

    doc_name: str = Field(min_length=1, max_length=256)


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


def _space_ref(request: Request) -> str:
    name: str = request.path_params["space_name"]
    if len(name) > 128:
        raise InvalidInput("a space name has at most 128 characters", field="space_name")
    return name


def _documents_of(knowledge: KnowledgeService, space: str, doc_ids: list[int]) -> list[Document]:
    """The documents, if they all belong to the space (404 naming the first that does not)."""
    space_id = str(knowledge.spaces.resolve(space).id)
    documents = [knowledge.documents.get(doc_id) for doc_id in doc_ids]
    for document in documents:
        if document.space_id != space_id:
            raise NotFound(f"no document with id {document.id} in knowledge space {space!r}", field="doc_id")
    return documents


def _spaces_named(knowledge: KnowledgeService, query: SpaceQuery) -> list[Space]:
    """The space with the query's id and name, if there is one."""
    try:
        space = knowledge.spaces.get(knowledge.spaces.resolve(query.id or query.name or "").id)
    except NotFound:
        return []
    return [space] if query.id in (None, space.id) and query.name in (None, "", space.name) else []


async def list_spaces(request: Request) -> Response:
    query = await parse_body(request, SpaceQuery)
    knowledge = knowledge_service(request)
    if query.id is not None or query.name:
        spaces = await asyncio.to_thread(_spaces_named, knowledge, query)
    else:
        spaces = (await asyncio.to_thread(knowledge.spaces.page, 1, MAX_PAGE_SIZE)).items
    return await envelope([SpaceResponse.of(space) for space in spaces])


async def add_space(request: Request) -> Response:
    body = await parse_body(request, SpaceAdd)
    created = SpaceIn(name=body.name, desc=body.desc, owner=body.owner)
    space = await asyncio.to_thread(knowledge_service(request).spaces.create, created)
    return await envelope(SpaceResponse.of(space))


async def delete_space(request: Request) -> Response:
    body = await parse_body(request, SpaceName)
    knowledge = knowledge_service(request)
    space = await asyncio.to_thread(knowledge.spaces.resolve, body.name)
    return await envelope(SpaceResponse.of(await asyncio.to_thread(knowledge.spaces.delete, space.id)))


async def space_config(request: Request) -> Response:
    normal = DomainType(name="Normal", desc="Normal")
    vectors = StorageType(name="VectorStore", desc="Vector Store (with full-text search)", domain_types=[normal])
    return await envelope(SpaceConfig(storage=[vectors]))


async def list_chunk_strategies(request: Request) -> Response:
    return await envelope(chunk_strategies())


async def add_document(request: Request) -> Response:
    body = await parse_body(request, TextDocument)
    document = await asyncio.to_thread(
        knowledge_service(request).add_document,
        _space_ref(request),
        body.doc_name,
        content=body.content,
        doc_source=body.source or "",
        ingest=False,
        unique_name=True,
    )
    return await envelope(document.id)


async def upload_document(request: Request) -> Response:
    knowledge = knowledge_service(request)
    space = _space_ref(request)
    fields, upload = await document_fields(request, knowledge.documents.max_bytes)
    form = validated(UploadForm, fields)
    if upload is None:
        raise InvalidInput("send the file as multipart form data in doc_file", field="doc_file")
    file = SourceFile(upload.filename or form.doc_name, await upload.read())
    add = knowledge.add_document
    document = await asyncio.to_thread(add, space, form.doc_name, file=file, ingest=False, unique_name=True)
    return await envelope(document.id)


async def sync_batch(request: Request) -> Response:
    items = validated(SyncBatch, await json_body(request)).root
    knowledge = knowledge_service(request)
    space = _space_ref(request)
    await asyncio.to_thread(_documents_of, knowledge, space, [item.doc_id for item in items])
    return await envelope(SyncTasks(tasks=await synced(knowledge, items)))


async def sync_documents(request: Request) -> Response:
    body = await parse_body(request, DocumentSync)
    knowledge = knowledge_service(request)
    space = _space_ref(request)
    sizes = body.model_dump(include={"chunk_size", "chunk_overlap"}, exclude_none=True)
    parameters = validated(ChunkParameters, sizes) if sizes else None
    items = [SyncItem(doc_id=doc_id, chunk_parameters=parameters) for doc_id in body.doc_ids]
    await asyncio.to_thread(_documents_of, knowledge, space, body.doc_ids)
    return await envelope(await synced(knowledge, items))


async def list_documents(request: Request) -> Response:
    query = await parse_body(request, DocumentQuery)
    page, page_size = (1, len(query.doc_ids)) if query.doc_ids else (query.page, query.page_size)
    found = await asyncio.to_thread(
        knowledge_service(request).documents.page,
        _space_ref(request),
        page,
        page_size,
        doc_ids=query.doc_ids or None,
        name_contains=query.doc_name,
        status=query.status,
        doc_type=query.doc_type,
    )
    return await envelope(DocumentQueryResponse(data=found.items, total=found.total_count, page=found.page))


async def delete_document(request: Request) -> Response:
    body = await parse_body(request, DocumentName)
    knowledge = knowledge_service(request)
    space = _space_ref(request)
    named = await asyncio.to_thread(knowledge.documents.named, space, body.doc_name)
    if not named:
        raise NotFound(f"no document named {body.doc_name!r} in knowledge space {space!r}", field="doc_name")
    if len(named) > 1:
        raise Conflict(
            f"{len(named)} documents are named {body.doc_name!r}: delete one by id "
            "(DELETE /api/v2/serve/knowledge/documents/{id})",
            field="doc_name",
        )
    return await envelope(await asyncio.to_thread(knowledge.delete_document, named[0].id))


async def space_arguments(request: Request) -> Response:
    knowledge = knowledge_service(request)
    space = await asyncio.to_thread(knowledge.spaces.resolve, _space_ref(request))
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
    [document] = await asyncio.to_thread(_documents_of, knowledge, _space_ref(request), [query.document_id])
    found = await asyncio.to_thread(knowledge.chunk_page, document.id, query.page, query.page_size, query.content)
    chunks = [ChunkResponse.of(chunk, document) for chunk in found.items]
    return await envelope(ChunkQueryResponse(data=chunks, total=found.total_count, page=found.page))


SPACE_NAME = Param(
    "space_name",
    "path",
    {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f]+$"},
    "The space's name (or its id).",
)
IN_SPACE = BASE + "/{space_name}"
KNOWLEDGE_ROUTES: list[tuple[Endpoint, Handler]] = [
    (
        Endpoint(
            "POST",
            BASE + "/space/list",
            "List spaces (all, or by name)",
            body=SpaceQuery,
            response=SpaceList,
            enveloped=True,
        ),
        list_spaces,
    ),
    (
        Endpoint("POST", BASE + "/space/add", "Create a space", body=SpaceAdd, response=SpaceResponse, enveloped=True),
        add_space,
    ),
    (
        Endpoint(
            "POST",
            BASE + "/space/delete",
            "Delete a space (by name) with its documents",
            body=SpaceName,
            response=SpaceResponse,
            enveloped=True,
        ),
        delete_space,
    ),
    (
        Endpoint(
            "GET",
            BASE + "/space/config",
            "The kinds of space that can be created",
            response=SpaceConfig,
            enveloped=True,
        ),
        space_config,
    ),
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
            IN_SPACE + "/document/add",
            "Add a text document (waits in TODO for a sync); its id",
            params=(SPACE_NAME,),
            body=TextDocument,
            response=DocumentId,
            enveloped=True,
        ),
        add_document,
    ),
    (
        Endpoint(
            "POST",
            IN_SPACE + "/document/upload",
            "Upload a file document (multipart doc_name, doc_file, doc_type); waits in TODO for a sync; its id",
            params=(SPACE_NAME,),
            body=Upload,
            body_media=("multipart/form-data",),
            response=DocumentId,
            enveloped=True,
        ),
        upload_document,
    ),
    (
        Endpoint(
            "POST",
            IN_SPACE + "/document/sync_batch",
            "Chunk and embed documents, each with its chunk parameters",
            params=(SPACE_NAME,),
            body=SyncBatch,
            response=SyncTasks,
            enveloped=True,
        ),
        sync_batch,
    ),
    (
        Endpoint(
            "POST",
            IN_SPACE + "/document/sync",
            "Chunk and embed documents again (optionally with new sizes)",
            params=(SPACE_NAME,),
            body=DocumentSync,
            response=DocumentIdList,
            enveloped=True,
        ),
        sync_documents,
    ),
    (
        Endpoint(
            "POST",
            IN_SPACE + "/document/list",
            "List the space's documents with their status",
            params=(SPACE_NAME,),
            body=DocumentQuery,
            response=DocumentQueryResponse,
            enveloped=True,
        ),
        list_documents,
    ),
    (
        Endpoint(
            "POST",
            IN_SPACE + "/document/delete",
            "Delete a document (by name) with its chunks",
            params=(SPACE_NAME,),
            body=DocumentName,
            response=Document,
            enveloped=True,
        ),
        delete_document,
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
