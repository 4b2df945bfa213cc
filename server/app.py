"""The Starlette app: DB-GPT's v2 REST/SSE routes and MCP over streamable HTTP at `/mcp`, on one runtime."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.metadata
from collections.abc import AsyncIterator

from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dbgpt_tools.chat.models import ChatRequest
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server.api.v1 import V1_ROUTES
from server.api.v2.apps import APP_ROUTES
from server.api.v2.chat import chat_completions
from server.api.v2.chat_schema import ChatCompletion, ChatCompletionChunk
from server.api.v2.datasources import DATASOURCE_ROUTES
from server.api.v2.evaluation import EVALUATION_ROUTES
from server.api.v2.examples import EXAMPLE_ROUTES
from server.api.v2.flows import FLOW_ROUTES
from server.api.v2.knowledge import KNOWLEDGE_ROUTES
from server.auth import ApiKeyMiddleware, Credentials
from server.hosts import HostOriginMiddleware, mcp_transport_security
from server.login import LOGIN_ROUTES
from server.mcp import build_mcp_server
from server.openapi import Endpoint, Handler, docs_routes, narrow_enum, openapi_document
from server.responses import EXCEPTION_HANDLERS
from server.webui import webui_routes


class Health(BaseModel):
    """What `/health` reports."""

    status: str
    model: str
    llm_backend: str
    chat_modes: list[str]


async def health(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    report = Health(
        status="ok",
        model=runtime.llm.model_name,
        llm_backend=runtime.settings.llm_backend,
        chat_modes=[mode.value for mode in runtime.chat.modes],
    )
    return JSONResponse(report.model_dump())


ROUTES: list[tuple[Endpoint, Handler]] = [
    (
        Endpoint(
            "POST",
            "/api/v2/chat/completions",
            "Chat in any mode; JSON or server-sent events (stream: true)",
            body=ChatRequest,
            response=ChatCompletion,
            stream=ChatCompletionChunk,
            upstream=True,
        ),
        chat_completions,
    ),
    *DATASOURCE_ROUTES,
    *EXAMPLE_ROUTES,
    *KNOWLEDGE_ROUTES,
    *APP_ROUTES,
    *FLOW_ROUTES,
    *EVALUATION_ROUTES,
    *V1_ROUTES,
    *LOGIN_ROUTES,
    (Endpoint("GET", "/health", "Liveness and the answering model (no key needed)", response=Health), health),
]


def app_from_environment(settings: Settings | None = None) -> Starlette:
    """The app `dbgpt-tools serve` runs (each worker builds its own): a runtime it owns, on `settings` or those
    from the environment, warmed up if they say so."""
    settings = settings or Settings()
    app = create_app(Runtime(settings), owns_runtime=True, warm_up=settings.warm_up)
    gc.freeze()  # start-up objects (libraries, schemas) are permanent: later collections skip them
    return app


def create_app(runtime: Runtime, *, owns_runtime: bool = False, warm_up: bool = False) -> Starlette:
    """The whole server on `runtime`; `owns_runtime`: close it when the app shuts down; `warm_up`: load the
    model and its chat_data prompt in the background at start-up."""
    mcp_server = build_mcp_server(runtime)
    mcp_app = mcp_server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        transport_security=mcp_transport_security(runtime.settings),
        host=runtime.settings.host,
    )
    version = importlib.metadata.version("dbgpt-tools")
    document = openapi_document([endpoint for endpoint, _ in ROUTES], version)
    narrow_enum(document, "ChatMode", [mode.value for mode in runtime.chat.modes])
    openapi, docs = docs_routes(document)
    routes = [Route(endpoint.path, handler, methods=[endpoint.method]) for endpoint, handler in ROUTES]
    routes += [Route("/openapi.json", openapi, methods=["GET"]), Route("/docs", docs, methods=["GET"])]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with mcp_server.session_manager.run():
            if owns_runtime:
                await asyncio.to_thread(runtime.start_background)
            if warm_up:  # the port opens once the model is loaded; its prompts are then read in the background
                await runtime.warm_up()
            try:
                yield
            finally:
                await runtime.evaluation.close()
                if owns_runtime:
                    runtime.close()

    app = Starlette(
        routes=[
            *routes,
            *mcp_app.routes,
            *webui_routes(runtime.settings, Credentials(runtime.settings, runtime.logins)),
        ],
        middleware=[
            Middleware(HostOriginMiddleware, settings=runtime.settings),
            Middleware(ApiKeyMiddleware, settings=runtime.settings, logins=runtime.logins),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
