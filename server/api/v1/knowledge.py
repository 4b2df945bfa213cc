"""`/api/v1/knowledge/*`: DB-GPT's v1 knowledge calls (spaces, documents, sync) over the knowledge core."""

from __future__ import annotations

from server.openapi import Endpoint, Handler

KNOWLEDGE_ROUTES: list[tuple[Endpoint, Handler]] = []
