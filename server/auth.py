"""Bearer API-key check on `/api/v2` and `/mcp`, as pure ASGI so streaming responses pass untouched."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from dbgpt_tools.errors import Unauthorized
from dbgpt_tools.settings import Settings
from server.responses import dbgpt_error_response

PROTECTED_PREFIXES = ("/api/v2", "/mcp")


def bearer_key(scope: Scope) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, if any."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            return key.strip() if scheme.lower() == "bearer" else None
    return None


class ApiKeyMiddleware:
    """Refuse protected paths without an accepted key: HTTP 401 in DB-GPT's envelope."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PROTECTED_PREFIXES):
            key = bearer_key(scope)
            if not self.settings.accepts_key(key):
                reason = "missing API key" if key is None else "invalid API key"
                response = dbgpt_error_response(Unauthorized(f"{reason}: send 'Authorization: Bearer <key>'"))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
