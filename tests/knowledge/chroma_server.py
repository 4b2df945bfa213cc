"""A real Chroma server (`chroma run`, installed with chromadb) on a free loopback port, for the tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.live import free_port


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """`chroma run` storing in `path`; yields its URL once its heartbeat answers, stops it on exit."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a safety net: readiness is the heartbeat answering
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                errors = process.stderr.read().decode()[-2000:] if process.stderr else ""
                raise RuntimeError(f"chroma did not start: {errors}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stderr:
            process.stderr.close()
