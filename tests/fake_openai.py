"""A recording OpenAI-compatible endpoint: answers 'Reply N' (and embeddings) and keeps every request it received."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class FakeOpenAI:
    """`app` serves `/v1/chat/completions`; `requests` holds the JSON bodies in arrival order.

    It also serves `/v1/embeddings`: the vector of a text is `[len(text), 1, 0]` and `data` comes in reverse order
    (an answer is ordered by `index`, not by position); `embedding_requests` holds (body, Authorization header)
    pairs, and `embedding_answer`, when set, is sent instead.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.embedding_requests: list[tuple[dict[str, Any], str | None]] = []
        self.embedding_answer: Response | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._complete, methods=["POST"]),
                Route("/v1/embeddings", self._embed, methods=["POST"]),
            ]
        )

    def messages(self, index: int) -> list[tuple[str, str]]:
        """(role, content) of the messages of one received request."""
        return [(m["role"], m["content"]) for m in self.requests[index]["messages"]]

    async def _embed(self, request: Request) -> Response:
        body = await request.json()
        self.embedding_requests.append((body, request.headers.get("authorization")))
        if self.embedding_answer is not None:
            return self.embedding_answer
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), 1.0, 0.0]}
            for i, text in enumerate(body["input"])
        ]
        usage = {"prompt_tokens": len(data), "total_tokens": len(data)}
        return JSONResponse({"object": "list", "data": data[::-1], "model": body["model"], "usage": usage})

    async def _complete(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        text = f"Reply {len(self.requests)}"
        base = {"id": "fake", "created": int(time.time()), "model": body.get("model", "fake")}
        usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            return JSONResponse(
                {
                    **base,
                    "object": "chat.completion",
                    "usage": usage,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                }
            )

        def events() -> Any:
            for piece, finish in ((text, None), ("", "stop")):
                choice = {"index": 0, "delta": {"content": piece}, "finish_reason": finish}
                yield f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [choice]})}\n\n"
            yield f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
