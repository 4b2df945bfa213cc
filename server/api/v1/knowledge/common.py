"""What the v1 knowledge routes share: the base path, a space's path and its name parameter, and what such a path
addresses (the space, documents of it)."""

from __future__ import annotations

from starlette.requests import Request

from dbgpt_tools.errors import InvalidInput, NotFound
from dbgpt_tools.knowledge.models import Document
from dbgpt_tools.knowledge.service import KnowledgeService
from server.openapi import Param

BASE = "/api/v1/knowledge"
SPACE_NAME = Param(
    "space_name",
    "path",
    {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f]+$"},
    "The space's name (or its id).",
)
IN_SPACE = BASE + "/{space_name}"


def space_ref(request: Request) -> str:
    """The space named in the path (its name or id), at most 128 characters."""
    name: str = request.path_params["space_name"]
    if len(name) > 128:
        raise InvalidInput("a space name has at most 128 characters", field="space_name")
    return name


def documents_of(knowledge: KnowledgeService, space: str, doc_ids: list[int]) -> list[Document]:
    """The documents, if they all belong to the space (404 naming the first that does not)."""
    space_id = str(knowledge.spaces.resolve(space).id)
    documents = [knowledge.documents.get(doc_id) for doc_id in doc_ids]
    for document in documents:
        if document.space_id != space_id:
            raise NotFound(f"no document with id {document.id} in knowledge space {space!r}", field="doc_id")
    return documents
