"""`/api/v1/knowledge/*`: DB-GPT's v1 knowledge calls (spaces, documents, sync, chunks) over the knowledge core.
Spaces are addressed by name in the path, as DB-GPT's web UI does (an id works too)."""

from __future__ import annotations

from server.api.v1.knowledge.chunks import CHUNK_ROUTES
from server.api.v1.knowledge.documents import DOCUMENT_ROUTES
from server.api.v1.knowledge.spaces import SPACE_ROUTES
from server.openapi import Endpoint, Handler

KNOWLEDGE_ROUTES: list[tuple[Endpoint, Handler]] = [*SPACE_ROUTES, *DOCUMENT_ROUTES, *CHUNK_ROUTES]
