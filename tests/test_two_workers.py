"""Two server processes sharing one metadata store: a conversation started on one continues on the other."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from tests.fake_openai import FakeOpenAI
from tests.live import free_port, live_server

AUTH = {"Authorization": "Bearer k1"}


@contextmanager
def server_process(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port)],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_conversation_continues_on_another_worker(tmp_path: Path) -> None:
    fake = FakeOpenAI()
    with ExitStack() as stack:
        upstream = stack.enter_context(live_server(fake.app))
        shared = {
            "DBGPT_METADATA_URL": f"sqlite:///{tmp_path / 'shared-metadata.db'}",
            "DBGPT_API_KEYS": "k1,k2",
            "DBGPT_LLM_BACKEND": "openai",
            "DBGPT_LLM_BASE_URL": f"{upstream}/v1",
            "DBGPT_LLM_API_KEY": "upstream-secret",
            "DBGPT_SAMPLE_DB": "false",
        }
        first = stack.enter_context(server_process({**shared, "DBGPT_DATA_DIR": str(tmp_path / "a")}))
        second = stack.enter_context(server_process({**shared, "DBGPT_DATA_DIR": str(tmp_path / "b")}))
        turn1 = httpx.post(f"{first}/api/v2/chat/completions", json={"messages": "My code word is heron."},
                           headers=AUTH, timeout=30).json()
        response = httpx.post(f"{second}/api/v2/chat/completions",
                              json={"messages": "What is my code word?", "conv_uid": turn1["id"], "stream": True},
                              headers={"Authorization": "Bearer k2"}, timeout=30)
    assert response.status_code == 200
    assert "Reply 2" in response.text
    assert fake.messages(1)[1:] == [("user", "My code word is heron."), ("assistant", "Reply 1"),
                                    ("user", "What is my code word?")]
    assert fake.requests[1]["stream"] is True
