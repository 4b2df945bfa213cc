"""`/api/v2/serve/knowledge`: DB-GPT's knowledge spaces and documents in the result envelope.

Spaces and documents are addressed by integer id (a numeric string such as `"7"`); the retrieve route also takes a
space name. A document is created from a multipart upload (`doc_file`), form fields or query parameters (DB-GPT's
client sends `doc_name, doc_type, content, doc_source, space_id` as query parameters), or a JSON body; empty
fields count as absent. Its ingestion runs in the background: `status` goes TODO -> RUNNING -> FINISHED or FAILED
(`result` says why), with `progress`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, TypeAdapter
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.chat.models import VISIBLE
from dbgpt_tools.errors import InvalidInput, NotFound, validated
from dbgpt_tools.knowledge.chunking import ChunkParameters
from dbgpt_tools.knowledge.documents import DocumentFile, SourceFile
from dbgpt_tools.knowledge.models import Document, KnowledgeId, Page, Retrieval, Space, SpaceIn, SpaceUpdate
from dbgpt_tools.knowledge.service import KnowledgeService
from dbgpt_tools.operations.knowledge import SearchArgs, search_knowledge
from server.openapi import Endpoint, Handler, Param
from server.requests import capped, json_body, json_object, parse_body, path_id
from server.responses import envelope

BASE = "/api/v2/serve/knowledge"
_FORM_FIELDS = 16
_FORM_OVERHEAD = 1024 * 1024


def no_url_documents(value: str | None) -> str | None:
    """`value`, unless it is the URL document type (refused: the server reaches no other host)."""
    if value is not None and value.upper() == "URL":
        raise ValueError("URL documents are not supported: upload the file (doc_file) or send its text")
    return value


DocType = Annotated[
    str | None,
    Field(
        max_length=32,
        description="TEXT (content) or DOCUMENT (doc_file); URL documents are not supported.",
        json_schema_extra={"not": {"pattern": "^[Uu][Rr][Ll]$"}},
    ),
    AfterValidator(no_url_documents),
]
"""A document's type as DB-GPT sends it; URL documents are refused (the server reaches no other host)."""


class DocumentForm(BaseModel):
    """A document as DB-GPT's create route takes it (form fields, query parameters or JSON)."""

    model_config = ConfigDict(extra="ignore")

    space_id: KnowledgeId | Annotated[str, Field(min_length=1, max_length=128)] = Field(
        description="The space's id (or its name)."
    )
    doc_name: str | None = Field(default=None, max_length=256, description="Its name (default: the file's name).")
    doc_type: DocType = None
    content: str | None = Field(default=None, pattern=VISIBLE, description="The text of a TEXT document.")
    doc_source: str = Field(default="", max_length=64)
    chunk_parameters: ChunkParameters | None = None


class SyncRequest(BaseModel):
    """One document to chunk and embed again (DB-GPT's `KnowledgeSyncRequest`; `model_name` is ignored: the
    server's embedding model is used)."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    doc_id: KnowledgeId | None = None
    space_id: str | None = None
    model_name: str | None = None
    chunk_parameters: ChunkParameters | None = None


class RetrieveRequest(BaseModel):
    """DB-GPT's recall test: a query against one space (`mode`, `doc_ids`, `file_types` are our extensions)."""

    model_config = ConfigDict(extra="ignore")

    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(default=5, ge=1, le=100)
    score_threshold: float = Field(default=0.0, ge=-1, le=1)
    mode: str = Field(default="hybrid", pattern="^(hybrid|vector|keyword)$")
    doc_ids: list[KnowledgeId] | None = Field(default=None, max_length=1000)
    file_types: list[str] | None = Field(default=None, max_length=16)


class SyncItem(SyncRequest):
    """One document of a sync list: its id is required."""

    doc_id: KnowledgeId


class SyncList(RootModel[list[SyncItem]]):
    """Documents to sync (a JSON list)."""


class DocumentIds(RootModel[list[int]]):
    """The ids of the documents queued."""


class SpacePage(Page[Space]):
    """A page of spaces."""


class DocumentPage(Page[Document]):
    """A page of documents."""


INDEX_METHODS = ["VectorStore", "FullText"]
"""How every space is indexed, in DB-GPT's words: by meaning (Chroma vectors) and by words (BM25), searched
together."""
MAX_LISTED_FILES = 10_000
"""Documents a space's file listing reads at most (DB-GPT's reads 10,000 too)."""
MAX_READ_LINES, MAX_READ_CHARS = 500, 20_000


class SpaceStats(BaseModel):
    """A space's totals (DB-GPT's `KnowledgeSpaceStatsResponse`; git syncs and graphs do not exist here: null)."""

    name: str
    domain_type: str
    vector_type: str
    index_methods: list[str]
    desc: str
    document_count: int
    chunk_count: int = Field(description="Searchable chunks of all its documents.")
    sync_status: None = None
    sync_total_files: None = None
    sync_finished: None = None
    sync_running: None = None
    sync_failed: None = None
    sync_todo: None = None
    repo_url: None = None
    branch: None = None
    graph_vertex_count: None = None
    graph_edge_count: None = None
    graph_community_count: None = None
    graph_build_status: None = None


class ListingRequest(BaseModel):
    """A folder of a space's file tree (DB-GPT's `KbSearchRequest`; its other fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    path: str = Field(default="", max_length=1024, description="The folder ('' or '/': the top).")
    offset: int = Field(default=0, ge=0, le=MAX_LISTED_FILES)
    limit: int = Field(default=200, ge=1, le=1000)


class FileEntry(BaseModel):
    """A document (a file) or a folder of a space's file tree (DB-GPT's `KbFileEntry`)."""

    name: str
    path: str
    is_dir: bool
    file_type: str | None = None
    language: str | None = None
    doc_id: int | None = None
    child_count: int | None = Field(default=None, description="Documents under a folder.")


class Listing(BaseModel):
    """One folder of a space's file tree: its documents are files named by their names, a `/` in a name making
    folders (DB-GPT's `KbLsJsonResponse`)."""

    path: str
    entries: list[FileEntry]
    total_files: int
    total_dirs: int


class ReadRequest(BaseModel):
    """Lines of a document of a space, by its path in the file tree (DB-GPT's `KbSearchRequest` for `cat`)."""

    model_config = ConfigDict(extra="ignore")

    path: str = Field(min_length=1, max_length=1024, description="The document's path (its name).")
    start_line: int = Field(default=1, ge=1, le=100_000_000)
    end_line: int = Field(default=0, ge=0, le=100_000_000, description="The last line (0: to the end).")


class NumberedText(RootModel[str]):
    """The lines asked for, numbered, under a line naming the document, its format and length (at most 500 lines
    and 20,000 characters)."""


def knowledge_service(request: Request) -> KnowledgeService:
    knowledge: KnowledgeService = request.app.state.runtime.knowledge
    return knowledge


def page_params(request: Request, *extra: str) -> dict[str, Any]:
    """`page`, `page_size` (and `extra` names) from the query string: integers, each at most once."""
    values: dict[str, Any] = {}
    for name in request.query_params:
        if name not in ("page", "page_size", *extra):
            raise InvalidInput(f"unknown query parameter {name[:40]!r}", field=name)
        if len(request.query_params.getlist(name)) > 1:
            raise InvalidInput(f"{name} must be given at most once", field=name)
        raw = request.query_params[name]
        if name in ("page", "page_size"):
            if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
                raise InvalidInput(f"{name} must be a positive integer, got {raw[:40]!r}", field=name)
            values[name] = int(raw)
        else:
            values[name] = raw
    return values


async def create_space(request: Request) -> Response:
    body = await parse_body(request, SpaceIn)
    return await envelope(await asyncio.to_thread(knowledge_service(request).spaces.create, body))


async def update_space(request: Request) -> Response:
    body = await parse_body(request, SpaceUpdate)
    return await envelope(await asyncio.to_thread(knowledge_service(request).spaces.update, body))


async def delete_space(request: Request) -> Response:
    space_id = path_id(request, "space_id")
    return await envelope(await asyncio.to_thread(knowledge_service(request).spaces.delete, space_id))


async def get_space(request: Request) -> Response:
    space_id = path_id(request, "space_id")
    return await envelope(await asyncio.to_thread(knowledge_service(request).spaces.get, space_id))


async def list_spaces(request: Request) -> Response:
    params = page_params(request)
    return await envelope(await asyncio.to_thread(knowledge_service(request).spaces.page, **params))


async def retrieve(request: Request) -> Response:
    body = await parse_body(request, RetrieveRequest)
    args = validated(SearchArgs, {**body.model_dump(), "space": request.path_params["space_id"]})
    return await envelope(await search_knowledge(knowledge_service(request), args))


async def create_document(request: Request) -> Response:
    knowledge = knowledge_service(request)
    fields, upload = await document_fields(request, knowledge.documents.max_bytes)
    form = validated(DocumentForm, fields)
    file = None
    if upload is not None:
        file = SourceFile(upload.filename or form.doc_name or "", await upload.read())
    document = await asyncio.to_thread(
        knowledge.add_document,
        form.space_id,
        form.doc_name or "",
        content=form.content if file is None else None,
        file=file,
        doc_source=form.doc_source,
        chunk_parameters=form.chunk_parameters,
    )
    return await envelope(document)


async def document_fields(request: Request, max_bytes: int) -> tuple[dict[str, Any], UploadFile | None]:
    """The create route's fields (query parameters, then form fields or a JSON object) and its upload."""
    fields: dict[str, Any] = {key: value for key, value in request.query_params.items() if value != ""}
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        fields.update({key: value for key, value in (await json_object(request)).items() if value not in ("", None)})
        return _parsed(fields), None
    if media not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return _parsed(fields), None
    limited = capped(request, max_bytes + _FORM_OVERHEAD)  # the form's other fields and boundaries fit in the rest
    form = await limited.form(max_files=1, max_fields=_FORM_FIELDS, max_part_size=max_bytes)
    upload = None
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key != "doc_file":
                raise InvalidInput(f"unexpected file field {key[:40]!r}: send the file as doc_file", field=key)
            upload = value
        elif value != "":
            fields[key] = value
    return _parsed(fields), upload


def _parsed(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields with `chunk_parameters` read as JSON when it came as text (a form field, a query parameter)."""
    raw = fields.get("chunk_parameters")
    if isinstance(raw, str):
        try:
            fields["chunk_parameters"] = json.loads(raw) if raw.strip() else None
        except ValueError:
            raise InvalidInput("chunk_parameters must be JSON", field="chunk_parameters") from None
    return fields


async def list_documents(request: Request) -> Response:
    params = page_params(request, "space_id")
    space = params.pop("space_id", None)
    return await envelope(await asyncio.to_thread(knowledge_service(request).documents.page, space, **params))


async def get_document(request: Request) -> Response:
    document_id = path_id(request, "document_id")
    return await envelope(await asyncio.to_thread(knowledge_service(request).documents.get, document_id))


async def delete_document(request: Request) -> Response:
    document_id = path_id(request, "document_id")
    return await envelope(await asyncio.to_thread(knowledge_service(request).delete_document, document_id))


async def synced(knowledge: KnowledgeService, items: list[SyncItem]) -> list[int]:
    """Queue the documents' ingestion again, each with its new chunk parameters (if any); their ids."""
    return [(await asyncio.to_thread(knowledge.sync_document, item.doc_id, item.chunk_parameters)).id for item in items]


async def sync_documents(request: Request) -> Response:
    items = validated(SyncList, await json_body(request)).root
    return await envelope(await synced(knowledge_service(request), items))


async def sync_document(request: Request) -> Response:
    document_id = path_id(request, "document_id")
    raw = await json_body(request, allow_empty=True)
    item = validated(SyncRequest, raw if raw is not None else {})
    document = await asyncio.to_thread(knowledge_service(request).sync_document, document_id, item.chunk_parameters)
    return await envelope([document.id])


async def space_stats(request: Request) -> Response:
    knowledge = knowledge_service(request)
    space = await asyncio.to_thread(knowledge.spaces.resolve, request.path_params["space_id"])
    documents, chunks = await asyncio.to_thread(knowledge.documents.totals, space.id)
    stats = SpaceStats(
        name=space.name,
        domain_type="Normal",
        vector_type=space.vector_type,
        index_methods=INDEX_METHODS,
        desc=space.desc,
        document_count=documents,
        chunk_count=chunks,
    )
    return await envelope(stats)


async def list_files(request: Request) -> Response:
    body = await parse_body(request, ListingRequest)
    knowledge = knowledge_service(request)
    files = await asyncio.to_thread(knowledge.documents.files, request.path_params["space_id"], MAX_LISTED_FILES)
    return await envelope(listing(files, body))


def listing(files: list[DocumentFile], request: ListingRequest) -> Listing:
    """The folder `request.path` of the tree the documents' names make: folders first, then files, by name."""
    folder = request.path.strip("/")
    prefix = folder + "/" if folder else ""
    folders: dict[str, int] = {}
    entries: list[FileEntry] = []
    for file in files:
        if not file.name.startswith(prefix) or file.name == prefix:
            continue
        head, nested, _ = file.name[len(prefix) :].partition("/")
        if nested:
            folders[head] = folders.get(head, 0) + 1
        else:
            entries.append(
                FileEntry(name=head, path=file.name, is_dir=False, file_type=file.file_type, doc_id=file.doc_id)
            )
    dirs = [
        FileEntry(name=name, path=prefix + name, is_dir=True, child_count=count)
        for name, count in sorted(folders.items())
    ]
    ordered = dirs + sorted(entries, key=lambda entry: entry.name)
    page = ordered[request.offset : request.offset + request.limit]
    return Listing(path=folder or "/", entries=page, total_files=len(entries), total_dirs=len(dirs))


async def read_file(request: Request) -> Response:
    body = await parse_body(request, ReadRequest)
    knowledge = knowledge_service(request)
    named = await asyncio.to_thread(knowledge.documents.named, request.path_params["space_id"], body.path)
    if not named:
        raise NotFound(
            f"no document {body.path!r} in knowledge space {request.path_params['space_id']!r}", field="path"
        )
    text = await asyncio.to_thread(knowledge.document_text, named[0].id)
    return await envelope(numbered(body.path, named[0].doc_type, text, body.start_line, body.end_line))


def numbered(path: str, kind: str, text: str, start_line: int, end_line: int) -> str:
    """Lines `start_line`..`end_line` of `text`, numbered as DB-GPT's `kb_cat` shows them (capped)."""
    if not text:
        return f"File {path!r} is empty"
    lines = text.split("\n")
    first, wanted = start_line - 1, min(end_line or len(lines), len(lines))
    last = min(wanted, first + MAX_READ_LINES)
    shown = [f"{path} ({kind}, {len(lines)} lines)"]
    shown += [f"  {number:>4} | {line}" for number, line in enumerate(lines[first:last], start=start_line)]
    if last < wanted:
        shown.append(f"  ... (truncated, use start_line={last + 1} to continue)")
    result = "\n".join(shown)
    if len(result) > MAX_READ_CHARS:
        result = (
            result[:MAX_READ_CHARS] + f"\n\n... [Output truncated at {MAX_READ_CHARS} chars: use start_line/end_line]"
        )
    return result


SPACE = BASE + "/spaces"
DOCUMENT = BASE + "/documents"
SPACE_ID = Param("space_id", "path", TypeAdapter(KnowledgeId).json_schema(), "The space's integer id.")
SPACE_NAME_OR_ID = Param(
    "space_id",
    "path",
    {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f]+$"},
    "The space's id, or its name.",
)
DOCUMENT_ID = Param("document_id", "path", TypeAdapter(KnowledgeId).json_schema(), "The document's integer id.")
PAGE = Param("page", "query", {"type": "integer", "minimum": 1, "maximum": 999_999_999}, "Page number (from 1).")
PAGE_SIZE = Param("page_size", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, "Items per page.")
SPACE_FILTER = Param(
    "space_id",
    "query",
    {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f]+$"},
    "Only this space's documents (its id or name).",
)
# Literal paths come before `{id}` ones, so `sync` is never read as an id.
KNOWLEDGE_ROUTES: list[tuple[Endpoint, Handler]] = [
    (Endpoint("POST", SPACE, "Create a knowledge space", body=SpaceIn, response=Space, enveloped=True), create_space),
    (
        Endpoint(
            "PUT", SPACE, "Update a knowledge space (id in the body)", body=SpaceUpdate, response=Space, enveloped=True
        ),
        update_space,
    ),
    (
        Endpoint(
            "GET", SPACE, "List knowledge spaces (a page)", params=(PAGE, PAGE_SIZE), response=SpacePage, enveloped=True
        ),
        list_spaces,
    ),
    (
        Endpoint(
            "GET", SPACE + "/{space_id}", "Get a knowledge space", params=(SPACE_ID,), response=Space, enveloped=True
        ),
        get_space,
    ),
    (
        Endpoint(
            "DELETE",
            SPACE + "/{space_id}",
            "Delete a space with its documents, chunks, vectors and index",
            params=(SPACE_ID,),
            response=Space,
            enveloped=True,
        ),
        delete_space,
    ),
    (
        Endpoint(
            "POST",
            SPACE + "/{space_id}/retrieve",
            "Recall test: the chunks of a space that match a query (by id or name; hybrid by default)",
            params=(SPACE_NAME_OR_ID,),
            body=RetrieveRequest,
            response=Retrieval,
            enveloped=True,
        ),
        retrieve,
    ),
    (
        Endpoint(
            "POST",
            DOCUMENT,
            "Add a document from an upload (multipart doc_file) or text (content); fields as "
            "form fields, query parameters or JSON; ingested in the background",
            body=DocumentForm,
            body_media=("multipart/form-data", "application/json"),
            response=Document,
            enveloped=True,
        ),
        create_document,
    ),
    (
        Endpoint(
            "GET",
            DOCUMENT,
            "List documents (a page; space_id filters)",
            params=(PAGE, PAGE_SIZE, SPACE_FILTER),
            response=DocumentPage,
            enveloped=True,
        ),
        list_documents,
    ),
    (
        Endpoint(
            "POST",
            DOCUMENT + "/sync",
            "Chunk and embed documents again (a JSON list; chunk_parameters optional); returns their ids",
            body=SyncList,
            response=DocumentIds,
            enveloped=True,
        ),
        sync_documents,
    ),
    (
        Endpoint(
            "GET",
            DOCUMENT + "/{document_id}",
            "Get a document with its status and progress",
            params=(DOCUMENT_ID,),
            response=Document,
            enveloped=True,
        ),
        get_document,
    ),
    (
        Endpoint(
            "DELETE",
            DOCUMENT + "/{document_id}",
            "Delete a document with its chunks",
            params=(DOCUMENT_ID,),
            response=Document,
            enveloped=True,
        ),
        delete_document,
    ),
    (
        Endpoint(
            "POST",
            DOCUMENT + "/{document_id}/sync",
            "Chunk and embed one document again",
            params=(DOCUMENT_ID,),
            body=SyncRequest,
            response=DocumentIds,
            enveloped=True,
        ),
        sync_document,
    ),
    (
        Endpoint(
            "GET",
            BASE + "/{space_id}/stats",
            "A space's totals: documents and searchable chunks (DB-GPT's space stats)",
            params=(SPACE_NAME_OR_ID,),
            response=SpaceStats,
            enveloped=True,
        ),
        space_stats,
    ),
    (
        Endpoint(
            "POST",
            BASE + "/{space_id}/tools/ls-json",
            "A folder of a space's file tree (its documents, named by their names)",
            params=(SPACE_NAME_OR_ID,),
            body=ListingRequest,
            response=Listing,
            enveloped=True,
        ),
        list_files,
    ),
    (
        Endpoint(
            "POST",
            BASE + "/{space_id}/tools/cat",
            "Numbered lines of a document, by its path in the space's file tree",
            params=(SPACE_NAME_OR_ID,),
            body=ReadRequest,
            response=NumberedText,
            enveloped=True,
        ),
        read_file,
    ),
]
