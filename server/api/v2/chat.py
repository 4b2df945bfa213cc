"""`POST /api/v2/chat/completions`: DB-GPT's chat endpoint, OpenAI's wire shape, JSON or server-sent events."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dbgpt_tools.chat.markup import render_artifact
from dbgpt_tools.chat.models import ChatChunk, ChatRequest, FinishReason, Usage
from dbgpt_tools.chat.service import ChatTurn
from dbgpt_tools.errors import DbgptError, InternalError
from dbgpt_tools.runtime import Runtime
from server.requests import parse_body

log = logging.getLogger("dbgpt_tools.server")

DONE = b"data: [DONE]\n\n"
SEND_TIMEOUT_S = 30.0


class ChunkWriter:
    """Renders one stream's chunks; the constant part of each chunk's JSON is built once per stream."""

    def __init__(self, conv_uid: str, model: str, created: int) -> None:
        head = json.dumps({"id": conv_uid, "object": "chat.completion.chunk", "created": created, "model": model})
        self._head = head[:-1]
        self._delta_prefix = (
            f'data: {self._head}, "choices": [{{"index": 0, "delta": {{"role": "assistant", "content": '
        )
        self._delta_suffix = '}, "finish_reason": null}]}\n\n'

    def delta(self, text: str) -> bytes:
        """A chunk carrying `text` as `choices[0].delta.content`."""
        return (self._delta_prefix + json.dumps(text) + self._delta_suffix).encode()

    def finish(self, reason: FinishReason, usage: Usage) -> bytes:
        """The last chunk: empty content, the finish reason and the usage."""
        choices = [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": reason}]
        tail = json.dumps({"choices": choices, "usage": usage.model_dump()})[1:]
        return f"data: {self._head}, {tail}\n\n".encode()

    def error(self, exc: DbgptError) -> bytes:
        """A failure after the stream started: shown as text, and as an `error` object OpenAI clients raise."""
        choices = [
            {"index": 0, "delta": {"role": "assistant", "content": f"\n[ERROR] {exc.message}"}, "finish_reason": "stop"}
        ]
        error = {"message": exc.message, "code": exc.code, "status": exc.status}
        tail = json.dumps({"choices": choices, "error": error})[1:]
        return f"data: {self._head}, {tail}\n\n".encode()


async def rendered(turn: ChatTurn, markup: bool) -> AsyncIterator[ChatChunk]:
    """The turn's chunks with each artifact rendered into the text as DB-GPT's clients read it: chart-view
    markup, or a plain table when the request says `enable_vis: false`."""
    async for chunk in turn:
        if chunk.artifact is not None:
            chunk = chunk.model_copy(update={"delta": chunk.delta + render_artifact(chunk.artifact, markup=markup)})
        yield chunk


async def sse_events(turn: ChatTurn, writer: ChunkWriter, incremental: bool) -> AsyncIterator[bytes]:
    """The turn as SSE `data:` events, then `data: [DONE]`; a failure mid-stream becomes an error event."""
    so_far = ""
    try:
        async for chunk in rendered(turn, turn.request.enable_vis):
            if chunk.delta:
                so_far = so_far + chunk.delta if not incremental else chunk.delta
                yield writer.delta(so_far)
            if chunk.finish_reason is not None:
                yield writer.finish(chunk.finish_reason, chunk.usage or Usage())
    except DbgptError as exc:
        yield writer.error(exc)
    except Exception:
        log.exception("chat stream %s failed", turn.conv_uid)
        yield writer.error(InternalError("the answer failed; see the server log"))
    yield DONE


def completion_body(turn: ChatTurn, model: str, content: str, finish: FinishReason, usage: Usage) -> dict[str, Any]:
    """The non-stream answer; `id` is the conversation id, so a client can continue the conversation."""
    return {
        "id": turn.conv_uid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "conv_uid": turn.conv_uid,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": usage.model_dump(),
    }


async def chat_completions(request: Request) -> Response:
    """Answer a chat request; refusals (bad fields, unknown mode, busy model) come before any answer."""
    runtime: Runtime = request.app.state.runtime
    chat_request = await parse_body(request, ChatRequest)
    turn = await runtime.chat.start(chat_request)
    model = runtime.llm.model_name
    if chat_request.stream:
        writer = ChunkWriter(turn.conv_uid, model, int(time.time()))
        return EventSourceResponse(
            sse_events(turn, writer, chat_request.incremental),
            sep="\n",
            ping=15,
            send_timeout=SEND_TIMEOUT_S,  # a client that stops reading is dropped: it cannot hold the model's slot
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answering = asyncio.create_task(whole_answer(turn, chat_request.enable_vis))
    leaving = asyncio.create_task(client_gone(request))
    await asyncio.wait({answering, leaving}, return_when=asyncio.FIRST_COMPLETED)
    if not answering.done():  # the client left: stop the model; what was said so far is kept with the turn
        answering.cancel()
        await asyncio.wait({answering})
        return Response(status_code=499)  # never delivered: there is nobody to read it
    leaving.cancel()
    content, finish, usage = answering.result()
    return JSONResponse(completion_body(turn, model, content, finish, usage))


async def whole_answer(turn: ChatTurn, markup: bool) -> tuple[str, FinishReason, Usage]:
    """The rendered answer, its finish reason and usage."""
    parts: list[str] = []
    finish: FinishReason = "stop"
    usage = Usage()
    async for chunk in rendered(turn, markup):
        parts.append(chunk.delta)
        finish, usage = chunk.finish_reason or finish, chunk.usage or usage
    return "".join(parts), finish, usage


async def client_gone(request: Request) -> None:
    """Return when the client disconnects (its request body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
