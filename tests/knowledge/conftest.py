"""Knowledge fixtures: one local embedding model for the whole session (it is the real one; loading it once keeps
the suite fast), runtimes on a scripted chat model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.scripted import ScriptedChatModel


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def knowledge_runtime(settings: Settings, scripted: ScriptedChatModel, embedder: LocalEmbedder) -> Iterator[Runtime]:
    runtime = Runtime(settings, chat_model=scripted, embedder=embedder)
    yield runtime
    runtime.close()
