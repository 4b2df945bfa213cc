"""Streaming from an OpenAI-compatible endpoint (llama.cpp's server, OpenAI, vLLM, Ollama...) with aiohttp.

The chat faces relay every token, so this path is kept lean: aiohttp, whose compiled HTTP parser hands over
whatever bytes have arrived in one read (httpx's pure-Python h11 parses every chunk of the chunked body alone:
~30 µs per streamed event against ~10), and `data:` lines parsed with `json.loads`.

Tokens are handed on as they arrive. The first goes out alone the moment it is parsed; if more came with it, the
relay then pauses 2 ms so a reader sharing our CPUs gets it (time to first token). Tokens arriving faster than
any model generates them (reads under 1 ms apart: a cached or replayed answer) are relayed together at most every
2 ms, so a flood costs the reader a few events instead of one per token; a model's tokens never wait. Measured
in benchmarks/README.md.

An aiohttp session (and its pooled connections) belongs to the loop that made it: `LoopSessions` gives each loop
its own, held by a suspended async generator, so a loop shutting down (`asyncio.run`, uvicorn and anyio close a
loop's async generators first) closes its session and no "unclosed session" warning follows.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from dbgpt_tools.chat.models import ChatChunk, Usage
from dbgpt_tools.errors import Busy, DbgptError, InvalidInput, Upstream

logger = logging.getLogger(__name__)

_Keeper = AsyncGenerator[aiohttp.ClientSession, None]


class LoopSessions:
    """The running loop's session from `factory`, made on first use in that loop."""

    def __init__(self, factory: Callable[[], aiohttp.ClientSession]) -> None:
        self._factory = factory
        self._held: dict[asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, _Keeper]] = {}

    async def get(self) -> aiohttp.ClientSession:
        """This loop's session."""
        loop = asyncio.get_running_loop()
        held = self._held.get(loop)
        if held is None or held[0].closed:
            keeper = self._keep(loop, self._factory())
            held = self._held[loop] = (await anext(keeper), keeper)
        return held[0]

    async def _keep(self, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> _Keeper:
        try:
            yield session
        finally:
            if self._held.get(loop, (None,))[0] is session:
                del self._held[loop]
            await session.close()

    async def aclose(self) -> None:
        """Close the running loop's session (the next `get` makes a new one)."""
        held = self._held.get(asyncio.get_running_loop())
        if held is not None:
            await held[1].aclose()

    def close(self, timeout: float = 5.0) -> None:
        """Close, from synchronous code, the sessions of loops running in other threads (the background loop);
        a session of this thread's loop closes when that loop shuts down."""
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, (_, keeper) in list(self._held.items()):
            if loop is not current and loop.is_running():
                asyncio.run_coroutine_threadsafe(keeper.aclose(), loop).result(timeout)


_FLOOD_GAP_S = 0.001  # reads closer together than this: an upstream faster than any model generates...
_COALESCE_S = 0.002  # ...whose tokens are then relayed together at most this often (a model's never wait)


_IDLE_CONNECTION_S = 4.0


class OpenAIStream:
    """A pooled streaming client for one endpoint's `/chat/completions`."""

    def __init__(self, base_url: str, api_key: str, model: str, timeout: float) -> None:
        self.model = model
        self._url = f"{base_url.rstrip('/')}/chat/completions"
        self._sessions = LoopSessions(
            lambda: aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {api_key}"},
                # `timeout` to get a pooled connection and between reads; a new connection must come within 10 s
                timeout=aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=10.0, sock_read=timeout),
                # an idle connection is let go before llama.cpp's server drops it (after 5 s): a connection it had
                # closed would otherwise be taken from the pool, and there may be several
                connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=_IDLE_CONNECTION_S),
                trust_env=not is_loopback(base_url),  # HTTP(S)_PROXY / NO_PROXY, never for this machine
            )
        )

    async def astream(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None,
        max_tokens: int,
        stop: list[str] | None = None,
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
        if stop:
            body["stop"] = stop
        finish: str | None = None
        usage = Usage()
        try:
            response = await self._send(body)
        except TimeoutError as exc:
            raise Upstream("the LLM did not answer in time") from exc
        except aiohttp.ClientError as exc:
            logger.warning("the LLM endpoint could not be reached: %r", exc)
            raise Upstream("the LLM endpoint could not be reached") from exc
        try:
            if response.status != 200:
                raise status_error(response.status, await response.read())
            pending = b""
            pieces: list[str] = []
            sent_first = False
            last_read = last_sent = 0.0
            async for data in response.content.iter_any():
                now = time.monotonic()
                flood = now - last_read < _FLOOD_GAP_S  # faster than any model generates: nobody reads that fast
                last_read = now
                *lines, pending = (pending + data).split(b"\n")
                for index, line in enumerate(lines):
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
                    if pieces and not sent_first:  # the first token goes out the moment it is parsed
                        yield ChatChunk(delta=pieces.pop())
                        sent_first, last_sent = True, now
                        if any(lines[index + 1 :]):  # more came with it: let a reader sharing our CPUs take it
                            await asyncio.sleep(_COALESCE_S)
                if pieces and (not flood or now - last_sent >= _COALESCE_S):
                    yield ChatChunk(delta="".join(pieces))
                    pieces, last_sent = [], now
            if pieces:
                yield ChatChunk(delta="".join(pieces))
        except TimeoutError as exc:
            raise Upstream("the LLM stopped answering in time") from exc
        except aiohttp.ClientError as exc:
            logger.warning("the LLM endpoint closed the connection mid-answer: %r", exc)
            raise Upstream("the LLM endpoint closed the connection mid-answer") from exc
        finally:
            response.release()  # back to the pool when read to the end; closed when left half-read
        yield ChatChunk(finish_reason="length" if finish == "length" else "stop", usage=usage)

    async def _send(self, body: dict[str, Any]) -> aiohttp.ClientResponse:
        """Open the stream; a pooled connection the server had closed (llama.cpp closes keep-alive connections
        after a few requests) is retried once on a new one, which is safe as nothing was generated yet."""
        session = await self._sessions.get()
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        try:
            return await session.post(self._url, data=payload, headers=headers)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            return await session.post(self._url, data=payload, headers=headers)

    async def aclose(self) -> None:
        """Close this loop's connections."""
        await self._sessions.aclose()

    def close(self) -> None:
        """Close, from synchronous code, the connections held for loops running in other threads."""
        self._sessions.close()


def is_loopback(url: str) -> bool:
    """Whether `url` points at this machine (the embedded model's server): no proxy may stand in between."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _event(line: bytes) -> dict[str, Any] | None:
    """The JSON of one `data:` line (None for comments, blank lines and `[DONE]`); an error event raises."""
    if not line.startswith(b"data:"):
        return None
    payload = line[5:].strip()
    if not payload or payload == b"[DONE]":
        return None
    event: dict[str, Any] = json.loads(payload)
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
