"""`/api/v1/chat/db/*` and `/api/v1/editor/*`: DB-GPT's v1 datasource and SQL editor calls over the datasource registry
and the SQL safety gate."""

from __future__ import annotations

from server.openapi import Endpoint, Handler

DATABASES_ROUTES: list[tuple[Endpoint, Handler]] = []
