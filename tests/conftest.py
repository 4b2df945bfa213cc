"""Shared fixtures: settings in a temporary data dir, a runtime on a scripted model, one on the real model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.scripted import ScriptedChatModel

# Assembled model files are large: keep them between test runs unless a directory is given.
MODEL_DIR = Path(os.environ.get("DBGPT_TEST_MODEL_DIR", Path.home() / ".cache" / "dbgpt-tools" / "models"))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DBGPT_* variable or .env file of the developer's leaks into a test."""
    for name in list(os.environ):
        if name.startswith("DBGPT_") and name != "DBGPT_TEST_MODEL_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setitem(Settings.model_config, "env_file", None)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh data dir, the small local model, and one API key (`test-key`)."""
    return Settings(
        data_dir=tmp_path / "data",
        model_dir=MODEL_DIR,
        local_model="smollm2-135m",
        api_keys="test-key",  # type: ignore[arg-type]
        local_ctx=4096,
    )


@pytest.fixture
def scripted() -> ScriptedChatModel:
    """A scripted model answering 'Hello there' (give it more replies with `scripted.messages`)."""
    return ScriptedChatModel.replying(*["Hello there friend"] * 50)


@pytest.fixture
def runtime(settings: Settings, scripted: ScriptedChatModel) -> Iterator[Runtime]:
    """A runtime whose LLM is the scripted model."""
    rt = Runtime(settings, chat_model=scripted)
    yield rt
    rt.close()


@pytest.fixture
def local_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on the real embedded llama.cpp model (SmolLM2-135M: small, starts in ~0.5 s)."""
    settings = Settings(
        data_dir=tmp_path / "local-data",
        model_dir=MODEL_DIR,
        local_model="smollm2-135m",
        api_keys="test-key",  # type: ignore[arg-type]
        local_ctx=4096,
        max_new_tokens=48,
    )
    rt = Runtime(settings)
    yield rt
    rt.close()
