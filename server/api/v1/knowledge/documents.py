"""`/api/v1/knowledge/{space_name}/document/*`: DB-GPT's v1 documents of a space (add, upload, list, delete,
sync, sync_batch).

As in DB-GPT, a document added here waits in TODO until a sync (`sync_batch`) chooses how it is cut into chunks; a
server left running ingests it anyway on its next sweep of waiting documents. A document's name is unique within its
space, since the UI deletes documents by name. URL documents are refused; a text document's `questions` ignored.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.chat.models import VISIBLE
from dbgpt_tools.errors import Conflict, InvalidInput, NotFound, validated
from dbgpt_tools.knowledge.chunking import MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, ChunkParameters
from dbgpt_tools.knowledge.documents import SourceFile
from dbgpt_tools.knowledge.models import Document, DocumentStatus, KnowledgeId
from dbgpt_tools.store.lookup import MAX_PAGE_SIZE
from server.api.v1.knowledge.common import IN_SPACE, SPACE_NAME, documents_of, space_ref
from server.api.v2.knowledge.common import knowledge_service
from server.api.v2.knowledge.documents import SyncItem, no_url_documents, synced
from server.api.v2.knowledge.uploads import document_fields
from server.openapi import Endpoint, Handler
from server.requests import json_body, parse_body
from server.responses import envelope

MAX_IDS = 1000


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


async def add_document(request: Request) -> Response:
    body = await parse_body(request, TextDocument)
    document = await asyncio.to_thread(
        knowledge_service(request).add_document,
        space_ref(request),
        body.doc_name,
        content=body.content,
        doc_source=body.source or "",
        ingest=False,
        unique_name=True,
    )
    return await envelope(document.id)


async def upload_document(request: Request) -> Response:
    knowledge = knowledge_service(request)
    space = space_ref(request)
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
    space = space_ref(request)
    await asyncio.to_thread(documents_of, knowledge, space, [item.doc_id for item in items])
    return await envelope(SyncTasks(tasks=await synced(knowledge, items)))


async def sync_documents(request: Request) -> Response:
    body = await parse_body(request, DocumentSync)
    knowledge = knowledge_service(request)
    space = space_ref(request)
    sizes = body.model_dump(include={"chunk_size", "chunk_overlap"}, exclude_none=True)
    parameters = validated(ChunkParameters, sizes) if sizes else None
    items = [SyncItem(doc_id=doc_id, chunk_parameters=parameters) for doc_id in body.doc_ids]
    await asyncio.to_thread(documents_of, knowledge, space, body.doc_ids)
    return await envelope(await synced(knowledge, items))


async def list_documents(request: Request) -> Response:
    query = await parse_body(request, DocumentQuery)
    page, page_size = (1, len(query.doc_ids)) if query.doc_ids else (query.page, query.page_size)
    found = await asyncio.to_thread(
        knowledge_service(request).documents.page,
        space_ref(request),
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
    space = space_ref(request)
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


DOCUMENT_ROUTES: list[tuple[Endpoint, Handler]] = [
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
]
