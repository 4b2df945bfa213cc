"""`/api/v2/serve/knowledge/spaces`: DB-GPT's knowledge spaces, addressed by integer id (a numeric string such as
`"7"`), and the recall test, which also takes a space name."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.errors import validated
from dbgpt_tools.knowledge.models import KnowledgeId, Page, Retrieval, Space, SpaceIn, SpaceUpdate
from dbgpt_tools.operations.knowledge import SearchArgs, search_knowledge
from server.api.v2.knowledge.common import BASE, SPACE_NAME_OR_ID, knowledge_service
from server.api.v2.paging import PAGE, PAGE_SIZE, page_params
from server.openapi import Endpoint, Handler, Param
from server.requests import parse_body, path_id
from server.responses import envelope

SPACE = BASE + "/spaces"
SPACE_ID = Param("space_id", "path", TypeAdapter(KnowledgeId).json_schema(), "The space's integer id.")


class RetrieveRequest(BaseModel):
    """DB-GPT's recall test: a query against one space (`mode`, `doc_ids`, `file_types` are our extensions)."""

    model_config = ConfigDict(extra="ignore")

    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(default=5, ge=1, le=100)
    score_threshold: float = Field(default=0.0, ge=-1, le=1)
    mode: str = Field(default="hybrid", pattern="^(hybrid|vector|keyword)$")
    doc_ids: list[KnowledgeId] | None = Field(default=None, max_length=1000)
    file_types: list[str] | None = Field(default=None, max_length=16)


class SpacePage(Page[Space]):
    """A page of spaces."""


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


SPACE_ROUTES: list[tuple[Endpoint, Handler]] = [
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
]
