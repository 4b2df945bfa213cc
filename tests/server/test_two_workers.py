"""Two server processes sharing one metadata store (SQLite, or PostgreSQL as in production): a conversation
started on one continues on the other, and a datasource registered on one is served by the other."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from tests.fake_openai import FakeOpenAI
from tests.knowledge.chroma_server import chroma_server
from tests.live import free_port, live_server, server_process

AUTH = {"Authorization": "Bearer k1"}


def worker_pids(parent: int) -> list[int]:
    """The server worker processes uvicorn spawned under `parent` (Linux /proc)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh metadata store: a SQLite file, or a new schema on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared-metadata.db'}"
        return
    request.getfixturevalue("pg_url")  # skips, with the reason, when the server is missing
    schema = f"metadata_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
        with admin.connect() as conn:  # the tables were made there, by the servers
            assert {"conversations", "datasources"} <= set(sa.inspect(conn).get_table_names(schema=schema))
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_conversation_continues_on_another_worker(tmp_path: Path, metadata_url: str) -> None:
    fake = FakeOpenAI()
    with ExitStack() as stack:
        upstream = stack.enter_context(live_server(fake.app))
        shared = {
            "DBGPT_METADATA_URL": metadata_url,
            "DBGPT_API_KEYS": "k1,k2",
            "DBGPT_LLM_BACKEND": "openai",
            "DBGPT_LLM_BASE_URL": f"{upstream}/v1",
            "DBGPT_LLM_API_KEY": "upstream-secret",
            "DBGPT_SAMPLE_DB": "false",
            "DBGPT_DB_ROOTS": str(tmp_path / "dbs"),
        }
        first, _ = stack.enter_context(server_process({**shared, "DBGPT_DATA_DIR": str(tmp_path / "a")}))
        second, _ = stack.enter_context(server_process({**shared, "DBGPT_DATA_DIR": str(tmp_path / "b")}))
        turn1 = httpx.post(
            f"{first}/api/v2/chat/completions", json={"messages": "My code word is heron."}, headers=AUTH, timeout=30
        ).json()
        response = httpx.post(
            f"{second}/api/v2/chat/completions",
            json={"messages": "What is my code word?", "conv_uid": turn1["id"], "stream": True},
            headers={"Authorization": "Bearer k2"},
            timeout=30,
        )
        created, listed, rows = _datasource_shared(tmp_path / "dbs" / "birds.sqlite", first, second)
    assert created["success"] and created["data"]["db_pwd"] == ""
    assert [source["db_name"] for source in listed["data"]] == ["birds"]
    assert rows["data"]["rows"] == [["heron"], ["kestrel"]]
    assert response.status_code == 200
    assert "Reply 2" in response.text
    assert fake.messages(1)[1:] == [
        ("user", "My code word is heron."),
        ("assistant", "Reply 1"),
        ("user", "What is my code word?"),
    ]
    assert fake.requests[1]["stream"] is True


def _datasource_shared(path: Path, first: str, second: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Register a SQLite file on the first worker; list and query it on the second."""
    path.parent.mkdir()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE birds (name TEXT)")
        conn.executemany("INSERT INTO birds VALUES (?)", [("heron",), ("kestrel",)])
    base = "/api/v2/serve/datasources"
    created = httpx.post(
        f"{first}{base}", json={"db_name": "birds", "db_type": "sqlite", "db_path": str(path)}, headers=AUTH, timeout=30
    ).json()
    listed = httpx.get(f"{second}{base}", headers=AUTH, timeout=30).json()
    rows = httpx.post(
        f"{second}{base}/birds/query", json={"sql": "SELECT name FROM birds ORDER BY name"}, headers=AUTH, timeout=30
    ).json()
    return created, listed, rows


def test_serve_workers_share_the_port_and_the_conversations(tmp_path: Path) -> None:
    fake = FakeOpenAI()
    env = {
        "DBGPT_DATA_DIR": str(tmp_path),
        "DBGPT_API_KEYS": "k1",
        "DBGPT_LLM_BACKEND": "openai",
        "DBGPT_SAMPLE_DB": "false",
    }
    with (
        live_server(fake.app) as upstream,
        chroma_server(tmp_path / "chroma") as chroma,
        server_process(
            {**env, "DBGPT_LLM_BASE_URL": f"{upstream}/v1", "DBGPT_CHROMA_URL": chroma}, "--workers", "3"
        ) as (url, server),
    ):
        assert len(worker_pids(server)) == 3
        conv_uid = None
        for turn in range(6):  # a new connection each time: any worker may take it
            body = {"messages": f"turn {turn}", **({"conv_uid": conv_uid} if conv_uid else {})}
            answer = httpx.post(f"{url}/api/v2/chat/completions", json=body, headers=AUTH, timeout=30).json()
            conv_uid = answer["id"]
    assert [content for role, content in fake.messages(5) if role == "user"] == [f"turn {i}" for i in range(6)]


def test_serve_workers_without_a_chroma_server_are_refused(tmp_path: Path) -> None:
    env = {**os.environ, "DBGPT_DATA_DIR": str(tmp_path), "DBGPT_API_KEYS": "k1", "DBGPT_SAMPLE_DB": "false"}
    env.pop("DBGPT_CHROMA_URL", None)
    run = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "DBGPT_CHROMA_URL" in run.stderr
