"""`/api/v1/chat/completions` (cumulative `choices[0].message.content` events, as DB-GPT's web UI reads them) and
`/api/v1/chat/react-agent` (`final` + `done` events), on the one chat core."""

from __future__ import annotations

from server.openapi import Endpoint, Handler

CHAT_ROUTES: list[tuple[Endpoint, Handler]] = []
