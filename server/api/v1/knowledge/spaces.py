"""`/api/v1/knowledge/space/*`: DB-GPT's v1 knowledge spaces (list, add, delete by name) and the kinds of space
that can be created. Knowledge graphs and domains other than Normal are refused when asked for."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.errors import NotFound
from dbgpt_tools.knowledge.models import KnowledgeId, Space, SpaceIn
from dbgpt_tools.knowledge.service import KnowledgeService
from dbgpt_tools.store.lookup import MAX_PAGE_SIZE
from server.api.v1.knowledge.common import BASE
from server.api.v2.knowledge.common import INDEX_METHODS, knowledge_service
from server.openapi import Endpoint, Handler
from server.requests import parse_body
from server.responses import envelope

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


SPACE_ROUTES: list[tuple[Endpoint, Handler]] = [
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
]
