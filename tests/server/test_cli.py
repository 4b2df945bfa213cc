"""The `dbgpt-tools` command line: safe defaults before anything starts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from server.cli import main


def test_serve_refuses_a_public_address_without_api_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DBGPT_DATA_DIR", str(tmp_path))
    started: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: started.append(args))
    with caplog.at_level(logging.ERROR):
        assert main(["serve", "--host", "0.0.0.0", "--port", "5999"]) == 2
    assert started == [] and "DBGPT_API_KEYS" in caplog.text


def test_serve_with_keys_starts_on_the_given_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBGPT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DBGPT_API_KEYS", "k1")
    monkeypatch.setenv("DBGPT_SAMPLE_DB", "false")
    started: list[dict[str, object]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: started.append(kwargs))
    monkeypatch.setattr("gc.freeze", lambda: None)  # not in the test process
    assert main(["serve", "--host", "0.0.0.0", "--port", "5999"]) == 0
    assert started[0]["host"] == "0.0.0.0" and started[0]["port"] == 5999
