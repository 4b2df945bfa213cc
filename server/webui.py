"""DB-GPT's web UI (a Next.js static export, installed by `dbgpt-tools webui install`) served at `/`, after the API
routes; when it is not installed, `/` says how to get it.

Its pages are `<route>/index.html`; a path that is no file falls back to the page of a dynamic route
(`share/[token]`, ...), as DB-GPT's own server does. `/api` and `/mcp` never reach it, so an unknown API path is
still DB-GPT's JSON 404. With API keys configured, a browser opening a page without a live login session is sent to
`/login` first; the files a page loads (scripts, styles, images) stay public.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import anyio
from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from dbgpt_tools.errors import NotFound
from dbgpt_tools.settings import Settings
from server.auth import Credentials, is_protected
from server.login import login_url

DYNAMIC_PAGES = re.compile(r"^/(share|construct/scheduled-tasks|models_evaluation)/[^/]+/?$")
DYNAMIC_PAGE_FILES = {
    "share": "share/[token]/index.html",
    "construct/scheduled-tasks": "construct/scheduled-tasks/[taskId]/index.html",
    "models_evaluation": "models_evaluation/[code]/index.html",
}
INSTALL_HINT = "DB-GPT's web UI is not installed: run `dbgpt-tools webui install`, then restart the server"


def installed(directory: Path) -> bool:
    """Whether `directory` holds the web UI."""
    return (directory / "index.html").is_file()


def is_page(path: str) -> bool:
    """Whether `path` names a page (a route or an `.html` file) rather than a file a page loads."""
    last = path.rsplit("/", 1)[-1]
    return "." not in last or last.endswith(".html")


class UiFiles(StaticFiles):
    """The UI's files, dynamic-route fallbacks, and the login gate on pages."""

    def __init__(self, directory: Path, credentials: Credentials) -> None:
        super().__init__(directory=directory, html=True)
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and await self._needs_login(scope):
            query = scope["query_string"].decode("latin-1")
            target = scope["path"] + (f"?{query}" if query else "")
            await RedirectResponse(login_url(target), status_code=303)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _needs_login(self, scope: Scope) -> bool:
        if not (self.credentials.required and is_page(scope["path"])):
            return False
        return await self.credentials.refusal(scope) is not None

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response: Response | None = await super().get_response(path, scope)
        except HTTPException as error:  # no such file, and no 404.html
            if error.status_code != 404:
                raise
            response = None
        if response is not None and response.status_code != 404:
            return response
        page = await self._dynamic_page(scope["path"])
        if page is None:
            if response is None:
                raise HTTPException(status_code=404)
            return response
        if not scope["path"].endswith("/"):  # the pages expect the trailing slash, as every other page has
            return RedirectResponse(URL(scope=scope).replace(path=scope["path"] + "/"))
        return self.file_response(*page, scope)

    async def _dynamic_page(self, url_path: str) -> tuple[str, os.stat_result] | None:
        """The page of the dynamic route `url_path` belongs to (`/share/abc/` -> `share/[token]/index.html`)."""
        dynamic = DYNAMIC_PAGES.match(url_path)
        if dynamic is None:
            return None
        full_path, stat_result = await anyio.to_thread.run_sync(self.lookup_path, DYNAMIC_PAGE_FILES[dynamic.group(1)])
        return (full_path, stat_result) if stat_result is not None else None


class UiMount(Mount):
    """A mount at `/` that leaves `/api` and `/mcp` alone (their unknown paths stay JSON 404s, their known paths
    with another method 405s)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and is_protected(scope["path"]):
            return Match.NONE, {}
        return super().matches(scope)


async def not_installed(request: Request) -> Response:
    """`/` without the UI: how to get it (a page for a browser, DB-GPT's envelope for anything else)."""
    if "text/html" not in request.headers.get("accept", ""):
        raise NotFound(INSTALL_HINT)
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'><title>dbgpt-tools</title></head>"
        "<body style='font-family:sans-serif;max-width:40em;margin:4em auto'><h1>dbgpt-tools</h1>"
        f"<p>{INSTALL_HINT.replace('`dbgpt-tools webui install`', '<code>dbgpt-tools webui install</code>')}.</p>"
        "<p>The API is up: <a href='/docs'>/docs</a> lists it, <a href='/health'>/health</a> reports the model, "
        "MCP is at <code>/mcp</code>.</p></body></html>"
    )


def webui_routes(settings: Settings, credentials: Credentials) -> list[BaseRoute]:
    """The route that serves `/` (to go after every other route): the UI when it is installed, else the hint."""
    directory = settings.resolved_webui_dir
    if installed(directory):
        return [UiMount("/", app=UiFiles(directory, credentials))]
    return [Route("/", not_installed, methods=["GET", "HEAD"])]
