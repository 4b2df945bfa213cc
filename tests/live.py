"""A real uvicorn server on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(app: ASGIApp, **options: Any) -> Iterator[str]:
    """Serve `app` (lifespan included; `options` go to uvicorn's Config) and yield its base URL; stops on exit."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a safety net: the loop waits for `started`
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def server_process(env: dict[str, str], *args: str) -> Iterator[tuple[str, int]]:
    """`dbgpt-tools serve` with `env` and `args` in a subprocess; yields its URL and pid once /health answers. No
    model API port unless `env` sets one (servers run side by side)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port), *args],
        env={**os.environ, "DBGPT_SAMPLE_SPACE": "false", "DBGPT_MODEL_API_PORT": "0", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    with serving(process, f"{url}/health"):
        yield url, process.pid


@contextmanager
def serving(process: subprocess.Popen[bytes], ready_url: str) -> Iterator[None]:
    """Wait until `ready_url` answers 200 (the process's stderr is shown if it dies first), then yield; the process
    is terminated on exit."""
    errors = process.stderr
    assert errors is not None
    try:
        deadline = time.monotonic() + 60  # a safety net: readiness is the URL answering
        while True:
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{process.args!r} did not start: {errors.read().decode()[-2000:]}")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)
        errors.close()
