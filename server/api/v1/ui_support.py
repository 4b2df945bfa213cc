"""The v1 calls DB-GPT's web UI makes on every page that have a fixed or derived answer here (model types, app info,
mode params, hot questions...), and the clear 4xx of what makes no sense here."""

from __future__ import annotations

from server.openapi import Endpoint, Handler

UI_SUPPORT_ROUTES: list[tuple[Endpoint, Handler]] = []
