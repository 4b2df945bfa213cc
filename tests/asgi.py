"""The REST face in process: an httpx client on the app of a runtime, its lifespan running, with the test key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from dbgpt_tools.runtime import Runtime
from server.app import create_app

AUTH = {"Authorization": "Bearer test-key"}


@asynccontextmanager
async def rest_client(runtime: Runtime, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `runtime`'s REST face (`options` go to `httpx.AsyncClient`)."""
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=AUTH, **options) as c:
            yield c
