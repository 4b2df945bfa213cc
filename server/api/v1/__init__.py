"""DB-GPT's v1 API: the calls its web UI makes, on the same core as `/api/v2`."""

from __future__ import annotations

from server.api.v1.chat import CHAT_ROUTES
from server.api.v1.databases import DATABASES_ROUTES
from server.api.v1.dialogue import DIALOGUE_ROUTES
from server.api.v1.knowledge import KNOWLEDGE_ROUTES
from server.api.v1.ui_support import UI_SUPPORT_ROUTES
from server.openapi import Endpoint, Handler

V1_ROUTES: list[tuple[Endpoint, Handler]] = [
    *CHAT_ROUTES,
    *DIALOGUE_ROUTES,
    *DATABASES_ROUTES,
    *KNOWLEDGE_ROUTES,
    *UI_SUPPORT_ROUTES,
]
