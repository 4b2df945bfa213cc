"""A real Chroma server (`chroma run`, installed with chromadb) on a free loopback port, for the tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.live import free_port, serving


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
    with serving(process, f"{url}/api/v2/heartbeat"):
        yield url
