"""Fixtures of the REST tests: a runtime with the sample databases, a recorder of every response body, a small
SQLite file."""

from __future__ import annotations

import sqlite3
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


@pytest.fixture
def shop(settings: Settings) -> str:
    """A small SQLite file in the data dir: `items` with 5 rows."""
    path = settings.data_dir / "shop.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        conn.executemany("INSERT INTO items VALUES (?, ?)", [(i, f"item{i}") for i in range(1, 6)])
    conn.close()
    return str(path)
