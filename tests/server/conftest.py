"""Fixtures of the REST tests: a runtime with the sample databases, and a recorder of every response body."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.scripted import ScriptedChatModel
from tests.server.recording import Recorder


@pytest.fixture
def sample_runtime(settings: Settings, scripted: ScriptedChatModel) -> Iterator[Runtime]:
    """A runtime with the sample databases registered (read-only) as `sample_sales` and `sample_logistics`."""
    rt = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=scripted)
    yield rt
    rt.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
