"""An OpenAI-compatible upstream that streams N tokens as fast as it can (or at a fixed pace).

Raw ASGI with pre-rendered chunks, so the upstream itself costs as little as possible per token.
Run: `python -m benchmarks.fake_upstream --port 8001`. The request's `max_tokens` sets N (default 256);
`--pace-ms 20` sleeps that long between tokens (a realistic model's pace).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import uvicorn
from starlette.types import Receive, Scope, Send

_PREFIX = b'data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":0,"model":"fake","choices":'
_HEAD = _PREFIX + b'[{"index":0,"delta":{"content":'
_TAIL = b'},"finish_reason":null}]}\n\n'
_TOKENS = [_HEAD + json.dumps(f" tok{i}").encode() + _TAIL for i in range(4096)]
_ROLE = _PREFIX + b'[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
_STOP = _PREFIX + b'[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
_DONE = b"data: [DONE]\n\n"
_PACE_S = 0.0  # set by --pace-ms


def _usage(n: int) -> bytes:
    usage = {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n}
    return (
        b'data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":0,"model":"fake","choices":[],"usage":'
        + json.dumps(usage).encode()
        + b"}\n\n"
    )


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """POST /v1/chat/completions, streaming or not; anything else 404."""
    if scope["type"] != "http":
        return
    if not scope["path"].endswith("/chat/completions"):
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    request = json.loads(await _read_body(receive) or b"{}")
    n = min(int(request.get("max_tokens") or request.get("max_completion_tokens") or 256), len(_TOKENS))
    pace = _PACE_S
    if not request.get("stream"):
        text = "".join(f" tok{i}" for i in range(n))
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n},
        }
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    await send({"type": "http.response.body", "body": _ROLE, "more_body": True})
    for i in range(n):
        if pace:
            await asyncio.sleep(pace)
        await send({"type": "http.response.body", "body": _TOKENS[i], "more_body": True})
    await send({"type": "http.response.body", "body": _STOP + _usage(n) + _DONE})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pace-ms", type=float, default=0.0)
    args = parser.parse_args()
    global _PACE_S
    _PACE_S = args.pace_ms / 1000
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
