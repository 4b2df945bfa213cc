"""Streaming from an OpenAI-compatible endpoint (llama.cpp's server, OpenAI, vLLM, Ollama...) with httpx.

The chat faces relay every token, so this path is kept lean: one httpx stream, `data:` lines parsed with
`json.loads`. Tokens are handed on as they arrive; only when they arrive faster than any model generates them
(reads under 1 ms apart, e.g. a cached or replayed answer) are they relayed together, at most every 2 ms, so a
flood costs the reader a few events instead of one per token. The first token always goes out alone; in a flood
the relay then pauses 2 ms, so a reader sharing the CPUs gets to it (time to first token). Measured in
benchmarks/README.md.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from dbgpt_tools.errors import Busy, DbgptError, InvalidInput, Upstream
from dbgpt_tools.schemas import ChatChunk, Usage


_FLOOD_GAP_S = 0.001  # reads closer together than this: an upstream faster than any model generates...
_COALESCE_S = 0.002  # ...whose tokens are then relayed together at most this often (a model's never wait)


class OpenAIStream:
    """A pooled streaming client for one endpoint's `/chat/completions`."""

    def __init__(self, base_url: str, api_key: str, model: str, timeout: float) -> None:
        self.model = model
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    async def astream(
        self, messages: list[dict[str, Any]], *, temperature: float | None, max_tokens: int
    ) -> AsyncIterator[ChatChunk]:
        """Text deltas as they arrive, then one chunk with the finish reason and usage."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens,
        }
        if temperature is not None:
            body["temperature"] = temperature
        finish: str | None = None
        usage = Usage()
        try:
            response = await self._send(body)
        except httpx.TimeoutException as exc:
            raise Upstream("the LLM did not answer in time") from exc
        except httpx.TransportError as exc:
            raise Upstream("the LLM endpoint could not be reached") from exc
        try:
            if response.status_code != 200:
                raise status_error(response.status_code, await response.aread())
            pending = b""
            pieces: list[str] = []
            sent_first = False
            last_read = last_sent = 0.0
            async for data in response.aiter_bytes():
                now = time.monotonic()
                flood = now - last_read < _FLOOD_GAP_S  # faster than any model generates: nobody reads that fast
                last_read = now
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    event = _event(line)
                    if event is None:
                        continue
                    for choice in event.get("choices") or ():
                        content = (choice.get("delta") or {}).get("content")
                        if content:
                            pieces.append(content)
                        finish = choice.get("finish_reason") or finish
                    if event.get("usage"):
                        usage = _usage(event["usage"])
                if pieces and (not sent_first or not flood or now - last_sent >= _COALESCE_S):
                    yield ChatChunk(delta="".join(pieces))
                    if flood and not sent_first:  # the reader shares our CPUs: let it take the first token now
                        await asyncio.sleep(_COALESCE_S)
                    pieces, sent_first, last_sent = [], True, now
            if pieces:
                yield ChatChunk(delta="".join(pieces))
        except httpx.TimeoutException as exc:
            raise Upstream("the LLM stopped answering in time") from exc
        except httpx.TransportError as exc:
            raise Upstream("the LLM endpoint closed the connection mid-answer") from exc
        finally:
            await response.aclose()
        yield ChatChunk(finish_reason="length" if finish == "length" else "stop", usage=usage)

    async def _send(self, body: dict[str, Any]) -> httpx.Response:
        """Open the stream; a pooled connection the server had closed (llama.cpp closes keep-alive connections
        after a few requests) is retried once on a new one, which is safe as nothing was generated yet."""
        request = self._client.build_request("POST", "/chat/completions", json=body)
        try:
            return await self._client.send(request, stream=True)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            return await self._client.send(request, stream=True)

    async def aclose(self) -> None:
        await self._client.aclose()


def _event(line: bytes) -> dict[str, Any] | None:
    """The JSON of one `data:` line (None for comments, blank lines and `[DONE]`); an error event raises."""
    if not line.startswith(b"data:"):
        return None
    payload = line[5:].strip()
    if not payload or payload == b"[DONE]":
        return None
    event = json.loads(payload)
    if "error" in event:
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise Upstream(f"the LLM failed mid-answer: {str(message)[:300]}")
    return event


def _usage(raw: dict[str, Any]) -> Usage:
    prompt, completion = int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def status_error(status: int, body: bytes) -> DbgptError:
    """An endpoint's refusal in our hierarchy, with its message but never our key."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if message is None and isinstance(parsed, dict):
        message = parsed.get("message")
    detail = str(message or body[:300].decode("utf-8", "replace"))[:300]
    if status == 429:
        return Busy(f"the LLM endpoint is rate limiting: {detail}")
    if status == 400:
        return InvalidInput(f"the LLM refused the request: {detail}")
    if status in (401, 403):
        return Upstream(f"the LLM endpoint refused our credentials (HTTP {status}): check DBGPT_LLM_API_KEY")
    return Upstream(f"the LLM endpoint answered HTTP {status}: {detail}")
