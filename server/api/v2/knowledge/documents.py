"""`/api/v2/serve/knowledge/documents`: DB-GPT's knowledge documents, addressed by integer id.

A document is created from a multipart upload (`doc_file`), form fields or query parameters (DB-GPT's client sends
`doc_name, doc_type, content, doc_source, space_id` as query parameters), or a JSON body; empty fields count as
absent. Its ingestion runs in the background: `status` goes TODO -> RUNNING -> FINISHED or FAILED (`result` says
why), with `progress`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.chat.models import VISIBLE
from dbgpt_tools.errors import validated
from dbgpt_tools.knowledge.chunking import ChunkParameters
from dbgpt_tools.knowledge.documents import SourceFile
from dbgpt_tools.knowledge.models import Document, KnowledgeId, Page
from dbgpt_tools.knowledge.service import KnowledgeService
from server.api.v2.knowledge.common import BASE, knowledge_service
from server.api.v2.knowledge.uploads import document_fields
from server.api.v2.paging import PAGE, PAGE_SIZE, page_params
from server.openapi import Endpoint, Handler, Param
from server.requests import json_body, path_id
from server.responses import envelope

DOCUMENT = BASE + "/documents"
DOCUMENT_ID = Param("document_id", "path", TypeAdapter(KnowledgeId).json_schema(), "The document's integer id.")
SPACE_FILTER = Param(
    "space_id",
    "query",
    {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f]+$"},
    "Only this space's documents (its id or name).",
)


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


class SyncItem(SyncRequest):
    """One document of a sync list: its id is required."""

    doc_id: KnowledgeId


class SyncList(RootModel[list[SyncItem]]):
    """Documents to sync (a JSON list)."""


class DocumentIds(RootModel[list[int]]):
    """The ids of the documents queued."""


class DocumentPage(Page[Document]):
    """A page of documents."""


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


# Literal paths come before `{id}` ones, so `sync` is never read as an id.
DOCUMENT_ROUTES: list[tuple[Endpoint, Handler]] = [
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
]
