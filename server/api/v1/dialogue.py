"""`/api/v1/chat/dialogue/*`: DB-GPT's conversation list, scenes, new, delete and history, over the
conversation store."""

from __future__ import annotations

from server.openapi import Endpoint, Handler

DIALOGUE_ROUTES: list[tuple[Endpoint, Handler]] = []
