"""Shared fixtures: settings in a temporary data dir, a runtime on a scripted model, one on the real model."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.asgi import rest_client
from tests.scripted import ScriptedChatModel

# Assembled model files are large: keep them between test runs unless a directory is given.
MODEL_DIR = Path(os.environ.get("DBGPT_TEST_MODEL_DIR", Path.home() / ".cache" / "dbgpt-tools" / "models"))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DBGPT_* variable or .env file of the developer's leaks into a test."""
    for name in list(os.environ):
        if name.startswith("DBGPT_") and name not in (
            "DBGPT_TEST_MODEL_DIR",
            "DBGPT_TEST_PG_URL",
            "DBGPT_TEST_MYSQL_URL",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setitem(Settings.model_config, "env_file", None)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh data dir, the small local model, and one API key (`test-key`); chat_data reads no prompt
    ahead (a scripted model's replies then answer the questions, in order; the read-ahead tests turn it on)."""
    return Settings(
        data_dir=tmp_path / "data",
        model_dir=MODEL_DIR,
        local_model="smollm2-135m",
        api_keys="test-key",
        local_ctx=4096,
        sample_db=False,
        sample_space=False,
        sql_read_ahead=False,
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


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    """The real local embedding model, loaded once for the session."""
    return LocalEmbedder()


@pytest.fixture
def knowledge_runtime(settings: Settings, scripted: ScriptedChatModel, embedder: LocalEmbedder) -> Iterator[Runtime]:
    """A runtime on the scripted model with the real embedding model (for knowledge and embeddings)."""
    runtime = Runtime(settings, chat_model=scripted, embedder=embedder)
    yield runtime
    runtime.close()


@pytest.fixture
def local_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on the real embedded llama.cpp model (SmolLM2-135M: small, starts in ~0.5 s)."""
    settings = Settings(
        data_dir=tmp_path / "local-data",
        model_dir=MODEL_DIR,
        local_model="smollm2-135m",
        api_keys="test-key",
        local_ctx=4096,
        max_new_tokens=48,
    )
    rt = Runtime(settings)
    yield rt
    rt.close()


PG_URL = os.environ.get("DBGPT_TEST_PG_URL", "postgresql+psycopg://dbgpt:dbgpt-test-pw@127.0.0.1:54329/dbgpt_test")
MYSQL_URL = os.environ.get("DBGPT_TEST_MYSQL_URL", "mysql+pymysql://dbgpt:dbgpt-test-pw@127.0.0.1:33069/dbgpt_test")


def server_url(url_text: str, label: str) -> dict[str, Any]:
    """A test database server's URL parts (host, port, user, password, database), or a skip with the reason."""
    from sqlalchemy import create_engine, make_url, text

    url = make_url(url_text)
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        pytest.skip(f"{label} test server unavailable: {reason} — run scripts/ci_services.sh")
    finally:
        engine.dispose()
    return {
        "host": url.host or "127.0.0.1",
        "port": url.port,
        "user": url.username or "",
        "password": url.password or "",
        "database": url.database or "",
    }


@pytest.fixture(scope="session")
def pg_url() -> dict[str, Any]:
    """The test PostgreSQL server (scripts/ci_services.sh)."""
    return server_url(PG_URL, "PostgreSQL")


@pytest.fixture(scope="session")
def mysql_url() -> dict[str, Any]:
    """The test MariaDB server, spoken to as `mysql` (scripts/ci_services.sh)."""
    return server_url(MYSQL_URL, "MySQL/MariaDB")


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the test's `runtime` REST face (a module may define its own `runtime`)."""
    async with rest_client(runtime) as client:
        yield client
