"""DB-GPT's OpenAI-compatible model API (its apiserver's `/api/v1`), served on a port of its own
(DBGPT_MODEL_API_PORT) by the main app's runtime: the one configured LLM, straight (no chat mode, no history,
nothing stored) and in turn with every other request through its gate, and the knowledge embedding model.

Same API keys as the main app (Bearer only) and the same Host/Origin guard; every refusal is OpenAI's error object
`{"error": {"message", "type", "param", "code"}}` with its 4xx status (429 with `Retry-After`)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

import numpy as np
import uvicorn
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dbgpt_tools.chat.models import ChatChunk, FinishReason, Usage
from dbgpt_tools.chat.prompts import to_langchain
from dbgpt_tools.errors import Busy, DbgptError, InternalError, InvalidInput, NotFound, Unauthorized
from dbgpt_tools.llm.gate import ConcurrencyGate
from dbgpt_tools.runtime import Runtime
from server.api.v2.chat import DONE, SEND_TIMEOUT_S, ChunkWriter, client_gone
from server.auth import Credentials
from server.hosts import refusal
from server.model_api_schema import (
    AnswerChoice,
    AnswerMessage,
    Embedding,
    EmbeddingList,
    EmbeddingRequest,
    ModelCard,
    ModelChatCompletion,
    ModelChatRequest,
    ModelList,
)
from server.openapi import Endpoint, Handler, Param
from server.requests import parse_body
from server.responses import error_headers
from server.second_port import WithSecondPort, bind

log = logging.getLogger("dbgpt_tools.server")

EMBEDDING_PARALLEL = 2  # embedding requests computed at once (the CPU is shared with the chat model)...
EMBEDDING_QUEUE = 32  # ...and waiting; more are refused with 429


class UnknownModel(NotFound):
    """A model name this API does not serve."""


OPENAI_CODES: dict[type[DbgptError], str] = {
    Unauthorized: "invalid_api_key",
    Busy: "rate_limit_exceeded",
    UnknownModel: "model_not_found",
}


def openai_error(status: int, message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object for a refusal with HTTP `status`."""
    kind = "rate_limit_error" if status == 429 else "invalid_request_error" if status < 500 else "server_error"
    return {"message": message, "type": kind, "param": param, "code": code}


def openai_dbgpt_error(exc: DbgptError) -> dict[str, Any]:
    """OpenAI's error object for one of our refusals."""
    code = next((code for kind, code in OPENAI_CODES.items() if isinstance(exc, kind)), None)
    return openai_error(exc.status, exc.message, exc.field, code)


def openai_error_response(exc: DbgptError) -> JSONResponse:
    """One of our refusals as OpenAI answers it: `{"error": {...}}`, its status and headers."""
    return JSONResponse({"error": openai_dbgpt_error(exc)}, status_code=exc.status, headers=error_headers(exc))


async def _on_dbgpt_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DbgptError)
    return openai_error_response(exc)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = f"{exc.detail}: {request.method} {request.url.path}"
    if exc.status_code == 404:
        message += f" (this API serves {', '.join(endpoint.path for endpoint, _ in MODEL_API_ROUTES)})"
    body = {"error": openai_error(exc.status_code, message)}
    return JSONResponse(body, status_code=exc.status_code, headers=dict(exc.headers or {}))


async def _on_unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on the model API's %s %s", request.method, request.url.path, exc_info=exc)
    return openai_error_response(InternalError("internal server error"))


class ModelApiGuard:
    """Refuse a foreign `Host`, a cross-origin write (403) and a request without an accepted Bearer key (401)."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.settings = runtime.settings
        self.credentials = Credentials(runtime.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            error = refusal(scope, self.settings) or await self.credentials.refusal(scope)
            if error is not None:
                await openai_error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _cards(request: Request) -> list[ModelCard]:
    runtime, created = _runtime(request), request.app.state.created
    names = (runtime.llm.model_name, runtime.knowledge.embedder.model_name)
    return [ModelCard(id=name, created=created) for name in dict.fromkeys(names)]


async def list_models(request: Request) -> Response:
    """The chat model and the embedding model."""
    return JSONResponse(ModelList(data=_cards(request)).model_dump())


async def get_model(request: Request) -> Response:
    """One served model (404 for any other name)."""
    name = request.path_params["model"]
    for card in _cards(request):
        if card.id == name:
            return JSONResponse(card.model_dump())
    raise UnknownModel(f"the model {name[:256]!r} does not exist here", field="model")


def _served(name: str | None, served: str, kind: str) -> None:
    """Refuse a request naming another model than the one that would answer it."""
    if name is not None and name != served:
        raise UnknownModel(f"the {kind} model {name!r} is not served here: use {served!r}", field="model")


async def chat_completions(request: Request) -> Response:
    """The configured LLM's answer to the messages, JSON or server-sent events; refusals (bad fields, another
    model, a busy model) come before any answer."""
    runtime = _runtime(request)
    body = await parse_body(request, ModelChatRequest)
    model = runtime.llm.model_name
    _served(body.model, model, "chat")
    cap = runtime.settings.max_new_tokens
    runtime.llm.gate.check()
    chunks = runtime.llm.admitted_stream(
        to_langchain(body.messages),
        temperature=body.temperature,
        max_tokens=min(body.token_cap or cap, cap),
        stop=body.stop_sequences,
    )
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        return EventSourceResponse(
            _events(chunks, ChunkWriter(completion_id, model, created)),
            sep="\n",
            ping=15,
            send_timeout=SEND_TIMEOUT_S,  # a client that stops reading is dropped: it cannot hold the model's slot
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answering = asyncio.create_task(_whole(chunks))
    leaving = asyncio.create_task(client_gone(request))
    await asyncio.wait({answering, leaving}, return_when=asyncio.FIRST_COMPLETED)
    if not answering.done():  # the client left: stop the model
        answering.cancel()
        await asyncio.wait({answering})
        return Response(status_code=499)
    leaving.cancel()
    content, finish, usage = answering.result()
    choice = AnswerChoice(message=AnswerMessage(content=content), finish_reason=finish)
    answer = ModelChatCompletion(id=completion_id, created=created, model=model, choices=[choice], usage=usage)
    return JSONResponse(answer.model_dump())


async def _whole(chunks: AsyncGenerator[ChatChunk, None]) -> tuple[str, FinishReason, Usage]:
    parts: list[str] = []
    finish: FinishReason = "stop"
    usage = Usage()
    async with aclosing(chunks):
        async for chunk in chunks:
            parts.append(chunk.delta)
            finish, usage = chunk.finish_reason or finish, chunk.usage or usage
    return "".join(parts), finish, usage


async def _events(chunks: AsyncGenerator[ChatChunk, None], writer: ChunkWriter) -> AsyncIterator[bytes]:
    """`chat.completion.chunk` events, then `data: [DONE]`; a failure after the stream began is an `error` event
    (which OpenAI's SDK raises). A client gone mid-stream closes `chunks`, freeing the model's slot at once."""
    try:
        async with aclosing(chunks):
            async for chunk in chunks:
                if chunk.delta:
                    yield writer.delta(chunk.delta)
                if chunk.finish_reason is not None:
                    yield writer.finish(chunk.finish_reason, chunk.usage or Usage())
    except DbgptError as exc:
        yield _error_event(exc)
    except Exception:
        log.exception("a model API stream failed")
        yield _error_event(InternalError("the answer failed; see the server log"))
    yield DONE


def _error_event(exc: DbgptError) -> bytes:
    return f"data: {json.dumps({'error': openai_dbgpt_error(exc)})}\n\n".encode()


async def embeddings(request: Request) -> Response:
    """The knowledge embedding model's unit-length vectors, one per input, in order."""
    runtime = _runtime(request)
    body = await parse_body(request, EmbeddingRequest)
    embedder = runtime.knowledge.embedder
    _served(body.model, embedder.model_name, "embedding")
    gate: ConcurrencyGate = request.app.state.embedding_gate
    admission = gate.admit()
    try:
        await admission.acquire()
        vectors = await asyncio.to_thread(embedder.embed, body.texts)
    finally:
        admission.release()
    if body.dimensions is not None and vectors and body.dimensions != len(vectors[0]):
        raise InvalidInput(
            f"{embedder.model_name} gives {len(vectors[0])} dimensions, not {body.dimensions}", field="dimensions"
        )
    answer = await asyncio.to_thread(_embeddings_json, vectors, body.encoding_format, embedder.model_name)
    return Response(answer, media_type="application/json")


def _embeddings_json(vectors: list[list[float]], encoding: str, model: str) -> bytes:
    """The answer's JSON (up to a few MB, rendered off the event loop); vectors as floats, or as base64 of their
    little-endian float32 bytes."""
    data = [
        Embedding(
            index=i,
            embedding=base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode() if encoding == "base64" else v,
        )
        for i, v in enumerate(vectors)
    ]
    return EmbeddingList(data=data, model=model, usage=Usage()).model_dump_json().encode()


MODEL_API_ROUTES: list[tuple[Endpoint, Handler]] = [
    (Endpoint("GET", "/api/v1/models", "The served chat and embedding models", response=ModelList), list_models),
    (
        Endpoint(
            "GET",
            "/api/v1/models/{model:path}",
            "One served model",
            params=(Param("model", "path", {"type": "string"}, "The model's id"),),
            response=ModelCard,
        ),
        get_model,
    ),
    (
        Endpoint(
            "POST",
            "/api/v1/chat/completions",
            "The configured LLM's answer (no chat mode, no history); JSON or server-sent events",
            body=ModelChatRequest,
            response=ModelChatCompletion,
            upstream=True,
        ),
        chat_completions,
    ),
    (
        Endpoint(
            "POST",
            "/api/v1/embeddings",
            "The knowledge embedding model's vectors",
            body=EmbeddingRequest,
            response=EmbeddingList,
            upstream=True,
        ),
        embeddings,
    ),
]


def create_model_api(runtime: Runtime) -> Starlette:
    """The model API on `runtime`, which it uses and never closes (the main app owns it)."""
    app = Starlette(
        routes=[Route(endpoint.path, handler, methods=[endpoint.method]) for endpoint, handler in MODEL_API_ROUTES],
        middleware=[Middleware(ModelApiGuard, runtime=runtime)],
        exception_handlers={
            DbgptError: _on_dbgpt_error,
            HTTPException: _on_http_error,
            Exception: _on_unexpected_error,
        },
    )
    app.state.runtime = runtime
    app.state.created = int(time.time())
    app.state.embedding_gate = ConcurrencyGate(EMBEDDING_PARALLEL, EMBEDDING_QUEUE)
    return app


def with_model_api(app: Starlette, options: dict[str, Any]) -> ASGIApp | None:
    """`app`, the main app owning its runtime, serving the model API beside it on DBGPT_MODEL_API_PORT (uvicorn
    `options` but the port) from its start to its shutdown; `app` alone when the port is 0. None when the port
    cannot be bound (logged; the runtime is closed)."""
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    if not settings.model_api_port:
        return app
    try:
        sock = bind(settings.host, settings.model_api_port)
    except OSError as error:
        log.error("the model API cannot listen on %s:%d (%s): set DBGPT_MODEL_API_PORT to a free port, or 0 to "
                  "turn it off", settings.host, settings.model_api_port, error.strerror or error)  # fmt: skip
        runtime.close()
        return None
    config = uvicorn.Config(
        create_model_api(runtime), **{**options, "port": settings.model_api_port, "lifespan": "off", "log_config": None}
    )
    return WithSecondPort(app, config, sock, "OpenAI-compatible model API: base_url http://{address}/api/v1")
