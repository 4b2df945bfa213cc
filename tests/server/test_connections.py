"""What a connection can cost the server: a client that leaves stops its answer (the part said so far is kept),
and a client that sends its request too slowly is disconnected, while an answer that takes long is not cut."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server import http_protocol
from server.api.v2 import chat as chat_route
from server.app import create_app
from server.http_protocol import TimedHttpProtocol
from tests.live import live_server
from tests.scripted import FloodingModel, StallingModel

T = TypeVar("T")
WAIT = 60  # a safety net: every wait below ends on an event long before this


def connect(base: str) -> socket.socket:
    address = urlsplit(base)
    sock = socket.create_connection((address.hostname, address.port))
    sock.settimeout(WAIT)
    return sock


def request_bytes(path: str, body: bytes, host: str = "127.0.0.1") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer test-key\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def eventually(read: Callable[[], T]) -> T:
    """`read()` once it is truthy (the server thread finishes a turn just after the model stops)."""
    deadline = time.monotonic() + WAIT
    while not (found := read()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


def test_a_client_that_leaves_stops_its_answer_and_the_part_said_is_kept(settings: Settings) -> None:
    model = StallingModel(messages=iter([]))
    runtime = Runtime(settings, chat_model=model)
    try:
        with live_server(create_app(runtime)) as base:
            body = json.dumps({"model": "m", "messages": "Tell me a long story", "conv_uid": "left-early"}).encode()
            sock = connect(base)
            sock.sendall(request_bytes("/api/v2/chat/completions", body))
            assert model.started.wait(WAIT)  # the model is mid-answer...
            sock.close()  # ...when the client leaves
            assert model.cancelled.wait(WAIT)  # the model is stopped, not left generating for nobody
            history = eventually(lambda: runtime.conversations.history("left-early", 10))
            assert [(m.role, m.content) for m in history] == [
                ("user", "Tell me a long story"),
                ("assistant", "Partial"),
            ]
            with httpx.Client(base_url=base, headers={"Authorization": "Bearer test-key"}) as client:
                assert client.get("/health").status_code == 200
    finally:
        runtime.close()


def test_a_client_that_stops_reading_a_stream_is_dropped(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_route, "SEND_TIMEOUT_S", 0.5)
    model = FloodingModel(messages=iter([]))
    runtime = Runtime(settings, chat_model=model)
    try:
        with live_server(create_app(runtime)) as base:
            body = json.dumps({"model": "m", "messages": "Say everything", "stream": True}).encode()
            sock = connect(base)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(request_bytes("/api/v2/chat/completions", body))
            # never read: once the buffers are full, a send waits past its time limit and the stream is dropped
            assert model.stopped.wait(WAIT)
            assert eventually(lambda: runtime.llm.gate.admitted == 0)  # its place in line is free again
            sock.close()
    finally:
        runtime.close()


@pytest.fixture
def quick_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Header and body time limits of 1 s for servers started in this test."""
    monkeypatch.setenv("DBGPT_HTTP_HEADER_TIMEOUT", "1")
    monkeypatch.setenv("DBGPT_HTTP_BODY_TIMEOUT", "1")
    http_protocol._limits.cache_clear()
    yield
    http_protocol._limits.cache_clear()


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closes the connection (read until end of stream; a response may come first)."""
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_slow_clients_are_disconnected_and_slow_answers_are_not(quick_limits: None) -> None:
    release = asyncio.Event()
    waiting: list[asyncio.AbstractEventLoop] = []

    async def slow_answer(request: Request) -> PlainTextResponse:
        body = await request.body()
        waiting.append(asyncio.get_running_loop())
        await release.wait()  # answered only after the slow clients were cut off: longer than either limit
        return PlainTextResponse(f"got {len(body)} bytes")

    app = Starlette(routes=[Route("/slow", slow_answer, methods=["POST"])])
    with live_server(app, http=TimedHttpProtocol) as base:
        patient = connect(base)
        patient.sendall(request_bytes("/slow", b"x" * 10))
        silent = [connect(base) for _ in range(10)]  # connect and say nothing
        half_headers = [connect(base) for _ in range(10)]
        for sock in half_headers:
            sock.sendall(b"POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        half_bodies = [connect(base) for _ in range(10)]
        for sock in half_bodies:
            sock.sendall(request_bytes("/slow", b"x" * 1000)[:-500])
        assert all(closed_by_server(sock) for sock in silent + half_headers + half_bodies)
        assert waiting  # the patient request was taken in, and waited past both limits
        waiting[0].call_soon_threadsafe(release.set)
        answer = b""
        while not answer.endswith(b"got 10 bytes"):
            piece = patient.recv(4096)
            assert piece, answer
            answer += piece
        assert answer.startswith(b"HTTP/1.1 200 OK")
        for sock in [patient, *silent, *half_headers, *half_bodies]:
            sock.close()
