"""The lean stream from an OpenAI-compatible endpoint: token by token at a model's pace, batched in a flood;
every failure of the endpoint mapped to our errors; one client used from several event loops."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import re
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest

import benchmarks.fake_upstream as upstream
from dbgpt_tools.aio import run_sync
from dbgpt_tools.chat.models import ChatChunk
from dbgpt_tools.errors import Busy, DbgptError, InvalidInput, Upstream
from dbgpt_tools.llm.openai_stream import LoopSessions, OpenAIStream, is_loopback
from tests.live import live_server


@pytest.fixture
def base_url() -> Iterator[str]:
    with live_server(upstream.app) as url:
        yield f"{url}/v1"


async def chunks(base_url: str, tokens: int) -> list[ChatChunk]:
    stream = OpenAIStream(base_url, "key", "fake", timeout=30)
    try:
        return [
            chunk
            async for chunk in stream.astream([{"role": "user", "content": "go"}], temperature=None, max_tokens=tokens)
        ]
    finally:
        await stream.aclose()


@pytest.mark.anyio
async def test_a_flood_is_relayed_in_few_chunks_with_the_first_token_alone(base_url: str) -> None:
    got = await chunks(base_url, 2000)
    text = "".join(chunk.delta for chunk in got)
    assert text == "".join(f" tok{i}" for i in range(2000))
    assert got[0].delta == " tok0"  # time to first token is never traded for batching
    assert len(got) < 2000 / 4  # the reader gets batches, not one event per token
    usage = got[-1].usage
    assert got[-1].finish_reason == "stop" and usage is not None and usage.completion_tokens == 2000


@pytest.mark.anyio
async def test_tokens_at_a_models_pace_go_out_one_by_one(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream, "_PACE_S", 0.01)
    got = await chunks(base_url, 12)
    assert [chunk.delta for chunk in got[:-1]] == [f" tok{i}" for i in range(12)]


# --- failures of the endpoint, each answered raw by a loopback HTTP/1.1 server -------------------------------

Reply = tuple[bytes, bool]  # (bytes written for one request, close the connection afterwards)


def sse_reply(*events: str, end: bool = True) -> bytes:
    """A chunked `text/event-stream` answer of `data:` events (without its last chunk when not `end`)."""
    body = b"".join(_chunk(f"data: {event}\n\n".encode()) for event in events)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    return head + body + (b"0\r\n\r\n" if end else b"")


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def json_reply(status: int, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    return (
        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n".encode() + data
    )


def token(text: str) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})


@contextlib.asynccontextmanager
async def raw_upstream(answer: Callable[[int], Reply | None]) -> AsyncIterator[tuple[str, list[int]]]:
    """Serve `answer(n)` to the n-th request (from 0); None closes the connection without answering.
    Yields the base URL and, per request, the number of the connection it came on."""
    seen: list[int] = []
    connections = itertools.count()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = next(connections)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
                await reader.readexactly(int(length.group(1)) if length else 0)
                seen.append(connection)
                reply = answer(len(seen) - 1)
                if reply is None:
                    return
                writer.write(reply[0])
                await writer.drain()
                if reply[1]:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/v1", seen


async def collect(base_url: str, timeout: float = 30) -> list[ChatChunk]:
    stream = OpenAIStream(base_url, "key", "fake", timeout=timeout)
    got = []
    try:
        async for chunk in stream.astream([{"role": "user", "content": "go"}], temperature=None, max_tokens=9):
            got.append(chunk)
    finally:
        await stream.aclose()
    return got


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (429, Busy, "rate limiting: slow down"),
        (400, InvalidInput, "refused the request: slow down"),
        (401, Upstream, "check DBGPT_LLM_API_KEY"),
        (503, Upstream, "answered HTTP 503: slow down"),
    ],
)
async def test_a_refusal_is_mapped_with_its_message(status: int, kind: type[DbgptError], words: str) -> None:
    async with raw_upstream(lambda n: (json_reply(status, {"error": {"message": "slow down"}}), False)) as (url, _):
        with pytest.raises(kind) as raised:
            await collect(url)
    assert words in raised.value.message and "key" not in raised.value.message.replace("_KEY", "")


@pytest.mark.anyio
async def test_a_connection_closed_mid_answer_is_an_upstream_error_after_the_tokens_so_far() -> None:
    got: list[ChatChunk] = []
    async with raw_upstream(lambda n: (sse_reply(token("partial"), end=False), True)) as (url, _):
        stream = OpenAIStream(url, "key", "fake", timeout=30)
        with pytest.raises(Upstream, match="closed the connection mid-answer"):
            async for chunk in stream.astream([{"role": "user", "content": "go"}], temperature=None, max_tokens=9):
                got.append(chunk)
        await stream.aclose()
    assert [chunk.delta for chunk in got] == ["partial"]


@pytest.mark.anyio
async def test_an_error_event_ends_the_answer_with_its_message() -> None:
    error = json.dumps({"error": {"message": "context too long"}})
    async with raw_upstream(lambda n: (sse_reply(token("a"), error), False)) as (url, _):
        with pytest.raises(Upstream, match="failed mid-answer: context too long"):
            await collect(url)


@pytest.mark.anyio
async def test_an_endpoint_that_stops_sending_times_out() -> None:
    async with raw_upstream(lambda n: (sse_reply(token("a"), end=False), False)) as (url, _):
        with pytest.raises(Upstream, match="stopped answering in time"):
            await collect(url, timeout=0.3)


@pytest.mark.anyio
async def test_a_kept_alive_connection_the_server_dropped_is_retried_once_on_a_new_one() -> None:
    answer = sse_reply(token("ok"), '{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}', "[DONE]")
    async with raw_upstream(lambda n: None if n == 1 else (answer, False)) as (url, seen):
        stream = OpenAIStream(url, "key", "fake", timeout=30)
        try:
            for _ in range(2):
                got = [
                    c async for c in stream.astream([{"role": "user", "content": "go"}], temperature=None, max_tokens=9)
                ]
                assert [c.delta for c in got[:-1]] == ["ok"] and got[-1].finish_reason == "stop"
        finally:
            await stream.aclose()
    assert seen == [0, 0, 1]  # the second request was dropped on the kept-alive connection, answered on a new one


# --- one client, several event loops -------------------------------------------------------------------------


def test_one_client_serves_successive_event_loops_and_closes_with_each(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    stream = OpenAIStream(base_url, "key", "fake", timeout=30)

    async def answer() -> str:
        chunks = stream.astream([{"role": "user", "content": "go"}], temperature=None, max_tokens=5)
        return "".join([chunk.delta async for chunk in chunks])

    gc.collect()  # earlier tests' garbage first
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        texts = [asyncio.run(answer()) for _ in range(2)]  # e.g. a script calling asyncio.run twice
        gc.collect()
    assert texts == [" tok0 tok1 tok2 tok3 tok4"] * 2
    assert "Unclosed" not in caplog.text
    assert not [w for w in caught if "Unclosed" in str(w.message)]


def test_sessions_on_a_loop_in_another_thread_are_closed_from_synchronous_code() -> None:
    sessions = LoopSessions(aiohttp.ClientSession)
    session = run_sync(sessions.get())
    assert run_sync(sessions.get()) is session  # one per loop
    sessions.close()
    assert session.closed
    assert run_sync(sessions.get()) is not session  # a closed one is replaced
    sessions.close()


# --- proxies from the environment ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "loopback"),
    [("http://127.0.0.1:8/v1", True), ("http://localhost/v1", True), ("http://[::1]:8/v1", True),
     ("http://127.0.0.2/v1", True), ("https://api.openai.com/v1", False), ("http://10.0.0.7:8000/v1", False)],
)  # fmt: skip
def test_loopback_urls(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


@pytest.mark.anyio
async def test_an_endpoint_on_this_machine_is_called_directly_whatever_the_proxy_settings(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    got = await chunks(base_url, 3)
    assert "".join(chunk.delta for chunk in got) == " tok0 tok1 tok2"


@pytest.mark.anyio
async def test_a_remote_endpoint_goes_through_the_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = sse_reply(token("via proxy"), "[DONE]")
    async with raw_upstream(lambda n: (answer, False)) as (proxy_url, seen):
        monkeypatch.setenv("HTTP_PROXY", proxy_url.removesuffix("/v1"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        got = await collect("http://llm.invalid:8000/v1")  # a name that resolves nowhere: only the proxy can answer
    assert [chunk.delta for chunk in got[:-1]] == ["via proxy"] and seen == [0]
