"""The `dbgpt-tools` command line: safe defaults before anything starts."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from starlette.applications import Starlette

from server.cli import main
from server.second_port import WithSecondPort
from tests.fake_openai import FakeOpenAI
from tests.live import free_port, live_server, server_process


def test_serve_refuses_a_public_address_without_api_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DBGPT_DATA_DIR", str(tmp_path))
    started: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: started.append(args))
    with caplog.at_level(logging.ERROR):
        assert main(["serve", "--host", "0.0.0.0", "--port", "5999"]) == 2
    assert started == [] and "DBGPT_API_KEYS" in caplog.text


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Any, dict[str, Any]]]]:
    """What `uvicorn.run` was called with (it is not run), in a fresh data dir with a key; the apps' runtimes and
    model API sockets are closed afterwards."""
    monkeypatch.setenv("DBGPT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DBGPT_API_KEYS", "k1")
    monkeypatch.setenv("DBGPT_SAMPLE_DB", "false")
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: calls.append((app, kwargs)))
    monkeypatch.setattr("gc.freeze", lambda: None)  # not in the test process
    yield calls
    for app, _ in calls:
        if isinstance(app, WithSecondPort):
            app.sock.close()
            app = app.main
        if isinstance(app, Starlette):
            app.state.runtime.close()


def test_serve_with_keys_starts_on_the_given_address(
    started: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    model_api_port = free_port()
    monkeypatch.setenv("DBGPT_MODEL_API_PORT", str(model_api_port))
    assert main(["serve", "--host", "0.0.0.0", "--port", "5999"]) == 0
    ((app, options),) = started
    assert options["host"] == "0.0.0.0" and options["port"] == 5999
    assert isinstance(app, WithSecondPort) and app.sock.getsockname() == ("0.0.0.0", model_api_port)
    assert app.config.port == model_api_port and app.config.lifespan == "off"  # the main app owns the runtime


def test_model_api_port_zero_serves_the_main_app_alone(
    started: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBGPT_MODEL_API_PORT", "0")
    assert main(["serve", "--port", "5999"]) == 0
    assert isinstance(started[0][0], Starlette)


def test_a_model_api_port_in_use_stops_serve_before_it_starts(
    started: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("DBGPT_MODEL_API_PORT", str(taken.getsockname()[1]))
        with caplog.at_level(logging.ERROR):
            assert main(["serve", "--port", "5999"]) == 2
    assert started == [] and "DBGPT_MODEL_API_PORT" in caplog.text


def test_workers_serve_no_model_api_and_say_so(
    started: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DBGPT_CHROMA_URL", "http://127.0.0.1:8000")
    with caplog.at_level(logging.WARNING):
        assert main(["serve", "--port", "5999", "--workers", "2"]) == 0
    assert started[0][0] == "server.app:app_from_environment" and "--workers 1 only" in caplog.text


def test_serve_opens_the_model_api_on_its_own_port_with_the_same_model_and_keys(tmp_path: Path) -> None:
    llm = FakeOpenAI()
    model_api_port = free_port()
    env = {
        "DBGPT_DATA_DIR": str(tmp_path),
        "DBGPT_API_KEYS": "k1",
        "DBGPT_SAMPLE_DB": "false",
        "DBGPT_MODEL_API_PORT": str(model_api_port),
        "DBGPT_LLM_BACKEND": "openai",
        "DBGPT_LLM_MODEL": "team-model",
        "DBGPT_MAX_NEW_TOKENS": "64",
    }
    with live_server(llm.app) as llm_url, server_process({**env, "DBGPT_LLM_BASE_URL": f"{llm_url}/v1"}) as (url, _):
        assert httpx.get(f"{url}/health").json()["model"] == "team-model"
        client = OpenAI(api_key="k1", base_url=f"http://127.0.0.1:{model_api_port}/api/v1", max_retries=0)
        assert [model.id for model in client.models.list()] == ["team-model", "all-MiniLM-L6-v2"]
        stream = client.chat.completions.create(
            model="team-model", messages=[{"role": "user", "content": "Hi"}], stream=True, stop="END", max_tokens=500
        )
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream) == "Reply 1"
        with pytest.raises(openai.AuthenticationError):
            OpenAI(api_key="wrong", base_url=f"http://127.0.0.1:{model_api_port}/api/v1", max_retries=0).models.list()
    (sent,) = llm.requests  # the configured endpoint, asked once, with the messages as they were
    assert llm.messages(0) == [("user", "Hi")] and (sent["stop"], sent["max_tokens"]) == (["END"], 64)
