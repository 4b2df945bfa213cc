"""What the v2 knowledge routes share: the knowledge service, the base path, the space parameter and how every
space is indexed."""

from __future__ import annotations

from starlette.requests import Request

from dbgpt_tools.knowledge.service import KnowledgeService
from server.openapi import Param

BASE = "/api/v2/serve/knowledge"
SPACE_NAME_OR_ID = Param(
    "space_id",
    "path",
    {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f]+$"},
    "The space's id, or its name.",
)

INDEX_METHODS = ["VectorStore", "FullText"]
"""How every space is indexed, in DB-GPT's words: by meaning (Chroma vectors) and by words (BM25), searched
together."""


def knowledge_service(request: Request) -> KnowledgeService:
    """The app's knowledge service."""
    knowledge: KnowledgeService = request.app.state.runtime.knowledge
    return knowledge
