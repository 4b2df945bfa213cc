"""Web UI tests' helpers: a small stand-in for DB-GPT's built UI, a wheel holding one, and a browser-like client
(no API key, keeps cookies) of a runtime's app."""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from dbgpt_tools.runtime import Runtime
from server.app import create_app

# path -> content, laid out as the Next.js export is (each page `<route>/index.html`, dynamic routes in brackets)
UI_FILES = {
    "index.html": "<html>home page</html>",
    "404.html": "<html>ui not found page</html>",
    "chat/index.html": "<html>chat page</html>",
    "construct/database/index.html": "<html>database page</html>",
    "share/[token]/index.html": "<html>share page</html>",
    "construct/scheduled-tasks/[taskId]/index.html": "<html>task page</html>",
    "models_evaluation/[code]/index.html": "<html>evaluation page</html>",
    "models_evaluation/datasets/index.html": "<html>datasets page</html>",
    "_next/static/chunks/app.js": "console.log('app')",
    "LOGO.png": "png",
}


def write_ui(directory: Path) -> Path:
    """Write the stand-in UI into `directory`."""
    for name, content in UI_FILES.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return directory


def write_wheel(path: Path, members: dict[str, str]) -> Path:
    """A zip (wheel) at `path` holding `members` (name -> text)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


@asynccontextmanager
async def browser(
    runtime: Runtime, base_url: str = "http://127.0.0.1:5670", **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `runtime`'s app that behaves like the web UI in a browser: no Authorization header, cookies
    kept, redirects shown rather than followed."""
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, **options) as client:
            yield client
