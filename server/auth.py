"""Who may call `/api` (v1 and v2) and `/mcp`: a Bearer API key, or the web UI's login session cookie (which
`/login` hands out for a key). Pure ASGI, so streaming responses pass untouched."""

from __future__ import annotations

import asyncio

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from dbgpt_tools.errors import Unauthorized
from dbgpt_tools.login_sessions import LoginSessions
from dbgpt_tools.settings import Settings
from server.responses import dbgpt_error_response

PROTECTED_PREFIXES = ("/api", "/mcp")
SESSION_COOKIE = "dbgpt_session"


def is_protected(path: str) -> bool:
    """Whether `path` is under `/api` or `/mcp` (which need credentials when keys are configured)."""
    return any(path == prefix or path.startswith(f"{prefix}/") for prefix in PROTECTED_PREFIXES)


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return bytes(value).decode("latin-1")
    return None


def bearer_key(scope: Scope) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, if any."""
    value = _header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, key = value.partition(" ")
    return key.strip() if scheme.lower() == "bearer" else None


def session_token(scope: Scope) -> str | None:
    """The login session token of the request's cookie, if any."""
    cookies = _header(scope, b"cookie")
    return cookie_parser(cookies).get(SESSION_COOKIE) if cookies else None


class Credentials:
    """The one rule for both kinds of credentials: with no key configured anything goes; otherwise a Bearer key
    must be accepted, or (when the request sends none, and `logins` are kept) the session cookie must name a live
    session."""

    def __init__(self, settings: Settings, logins: LoginSessions | None = None) -> None:
        self.settings = settings
        self.logins = logins

    @property
    def required(self) -> bool:
        """Whether API keys are configured (and so credentials needed)."""
        return bool(self.settings.api_keys)

    async def refusal(self, scope: Scope) -> Unauthorized | None:
        """Why the request's credentials are not enough, or None when they are."""
        if not self.required:
            return None
        key = bearer_key(scope)
        if key is not None:
            return None if self.settings.accepts_key(key) else Unauthorized("invalid API key")
        token = session_token(scope) if self.logins is not None else None
        if token is None:
            return Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        if self.logins is not None and await asyncio.to_thread(self.logins.admits, token):
            return None
        return Unauthorized("login session expired or ended: log in again at /login")


class ApiKeyMiddleware:
    """Refuse `/api` and `/mcp` without accepted credentials (a Bearer key, or a login session when `logins` are
    given): HTTP 401 in DB-GPT's envelope."""

    def __init__(self, app: ASGIApp, settings: Settings, logins: LoginSessions | None = None) -> None:
        self.app = app
        self.credentials = Credentials(settings, logins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_protected(scope["path"]):
            error = await self.credentials.refusal(scope)
            if error is not None:
                await dbgpt_error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
