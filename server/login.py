"""The web UI's login: a plain form where the user pastes an API key, exchanged for a session cookie (HttpOnly,
SameSite=Strict, Path=/, Secure over https) that `/api` and `/mcp` accept like the key; and the logout."""

from __future__ import annotations

import asyncio
import html
from urllib.parse import parse_qs, quote

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dbgpt_tools.errors import Unauthorized
from dbgpt_tools.runtime import Runtime
from server.auth import SESSION_COOKIE, Credentials, session_token
from server.openapi import Endpoint, Handler, Param
from server.requests import capped

MAX_FORM_BYTES = 4096
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
}


class LoginForm(BaseModel):
    """What the login form posts."""

    key: str = Field(description="An API key of DBGPT_API_KEYS.")
    next: str = Field(default="/", description="The page to go back to (a path on this server).")


def login_url(next_path: str) -> str:
    """The login page, coming back to `next_path` afterwards."""
    return f"/login?next={quote(next_path, safe='/')}"


def safe_next(value: str | None) -> str:
    """`value` when it is a path on this server (never another site, never the login page itself), else `/`."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or value.startswith("/login"):
        return "/"
    if any(ord(char) < 0x20 or char == "\\" for char in value):
        return "/"
    return value


def _page(body: str, status: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        "<title>dbgpt-tools: log in</title><style>body{font-family:sans-serif;max-width:28em;margin:4em auto;"
        "padding:0 1em}input{width:100%;padding:.5em;margin:.5em 0;box-sizing:border-box}button{padding:.5em 1.5em}"
        ".error{color:#b00}</style></head><body><h1>dbgpt-tools</h1>" + body + "</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=PAGE_HEADERS)


def _form(next_path: str, error: str = "") -> str:
    message = f"<p class='error'>{html.escape(error)}</p>" if error else ""
    return (
        f"<p>Paste an API key of this server (one of <code>DBGPT_API_KEYS</code>) to use its web UI.</p>{message}"
        "<form method='post' action='/login'><label>API key <input type='password' name='key' autocomplete="
        f"'current-password' autofocus required></label><input type='hidden' name='next' value="
        f"'{html.escape(next_path, quote=True)}'><button type='submit'>Log in</button></form>"
    )


def _cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def login_page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    next_path = safe_next(request.query_params.get("next"))
    credentials = Credentials(runtime.settings, runtime.logins)
    if not credentials.required:
        return RedirectResponse(next_path, status_code=303)
    token = session_token(request.scope)
    if token is not None and await asyncio.to_thread(runtime.logins.admits, token):
        return _page(
            f"<p>You are logged in. <a href='{html.escape(next_path, quote=True)}'>Continue</a></p>"
            "<form method='post' action='/logout'><button type='submit'>Log out</button></form>"
        )
    return _page(_form(next_path))


async def login(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    fields = parse_qs((await capped(request, MAX_FORM_BYTES).body()).decode("utf-8", "replace"))
    next_path = safe_next(fields.get("next", ["/"])[0])
    if not runtime.settings.api_keys:
        return RedirectResponse(next_path, status_code=303)
    try:
        token = await asyncio.to_thread(runtime.logins.open, fields.get("key", [""])[0].strip())
    except Unauthorized:
        return _page(_form(next_path, "That key is not accepted."), status=401)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(runtime.settings.session_ttl),
        path="/",
        secure=_cookie_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


async def logout(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    token = session_token(request.scope)
    if token is not None:
        await asyncio.to_thread(runtime.logins.close, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=_cookie_secure(request), httponly=True, samesite="strict")
    return response


NEXT = Param("next", "query", {"type": "string"}, "The page to go back to after logging in.")
LOGIN_ROUTES: list[tuple[Endpoint, Handler]] = [
    (Endpoint("GET", "/login", "The web UI's login page (HTML)", params=(NEXT,), page=True), login_page),
    (
        Endpoint(
            "POST",
            "/login",
            "Exchange an API key for a session cookie; 303 back to `next` (401 and the form again for a wrong key)",
            body=LoginForm,
            body_media=("application/x-www-form-urlencoded",),
            status=303,
            page=True,
        ),
        login,
    ),
    (Endpoint("POST", "/logout", "End the login session and clear its cookie; 303 to /login", status=303), logout),
]
