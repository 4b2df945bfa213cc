"""`/api/v2/serve/knowledge`: DB-GPT's knowledge spaces and documents in the result envelope, and the tools its
web UI uses on a space."""

from __future__ import annotations

from server.api.v2.knowledge.documents import DOCUMENT_ROUTES
from server.api.v2.knowledge.spaces import SPACE_ROUTES
from server.api.v2.knowledge.tools import TOOL_ROUTES
from server.openapi import Endpoint, Handler

KNOWLEDGE_ROUTES: list[tuple[Endpoint, Handler]] = [*SPACE_ROUTES, *DOCUMENT_ROUTES, *TOOL_ROUTES]
