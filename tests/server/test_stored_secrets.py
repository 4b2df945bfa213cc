"""A stored password only ever goes to the host it was stored for, and never into a response or a log line:
proved against fake PostgreSQL servers that record every byte a client sends them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from dbgpt_tools.runtime import Runtime
from server.app import create_app
from tests.fake_postgres import FakePostgres, fake_postgres
from tests.scripted import ScriptedChatModel
from tests.server.recording import Recorder
from tests.server.test_datasources_api import BASE, SECRET, ok, refused

pytestmark = pytest.mark.anyio


@pytest.fixture
def servers() -> Iterator[tuple[FakePostgres, FakePostgres]]:
    """Two fake servers: `a` is where the password was stored for, `b` is anywhere else."""
    with fake_postgres() as a, fake_postgres() as b:
        yield a, b


@pytest.fixture
async def api(runtime: Runtime, scripted: ScriptedChatModel) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    recorder = Recorder()
    app = create_app(runtime)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://127.0.0.1",
            headers={"Authorization": "Bearer test-key"},
            event_hooks={"response": [recorder]},
        ) as client,
    ):
        yield client, recorder


def fields(server: FakePostgres, **changes: Any) -> dict[str, Any]:
    return {"db_name": "warehouse", "db_type": "postgresql", "db_host": "127.0.0.1", "db_port": server.port,
            "db_user": "bob", "db_pwd": SECRET, **changes}  # fmt: skip


async def test_the_stored_password_reaches_its_own_host_only(
    api: tuple[httpx.AsyncClient, Recorder],
    runtime: Runtime,
    servers: tuple[FakePostgres, FakePostgres],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, recorder = api
    a, b = servers
    caplog.set_level(logging.DEBUG)
    created = ok(await client.post(BASE, json=fields(a)))
    assert created["db_pwd"] == "******"

    # Its own host gets it: the fake really records passwords, so the refusals below mean something.
    status = ok(await client.get(f"{BASE}/{created['id']}/test-connection"))
    assert status["ok"] is False and "refused the login" in status["error"]
    assert SECRET.encode() in a.everything

    # Sent back masked but pointed elsewhere: refused before anything connects.
    elsewhere = {**created, "db_port": b.port}
    refused(await client.put(BASE, json=elsewhere), 400, "E0001", "db_pwd")
    refused(await client.put(BASE, json={**elsewhere, "db_pwd": ""}), 400, "E0001", "db_pwd")
    for moved in ({"db_port": b.port}, {"db_user": "mallory"}, {"db_name": "other"}, {"db_type": "mysql"}):
        message = refused(await client.put(BASE, json={**created, **moved}), 400, "E0001", "db_pwd")
        assert "password" in message
    refused(
        await client.post(f"{BASE}/test-connection", json={**elsewhere, "id": created["id"]}), 400, "E0001", "db_pwd"
    )
    assert b.connections == 0 and SECRET.encode() not in b.everything

    # With a password typed for it, the new host may be used; the stored one still went nowhere else.
    moved = ok(await client.put(BASE, json={**elsewhere, "db_pwd": "typed-for-b"}))
    assert moved["db_port"] == b.port and runtime.datasources.resolve(created["id"]).db_pwd == "typed-for-b"
    ok(await client.get(f"{BASE}/{created['id']}/test-connection"))
    assert b"typed-for-b" in b.everything and SECRET.encode() not in b.everything

    recorder.assert_never_shows(SECRET)
    recorder.assert_never_shows("typed-for-b")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert SECRET not in logged and "typed-for-b" not in logged


async def test_a_rename_or_comment_keeps_the_password(
    api: tuple[httpx.AsyncClient, Recorder], runtime: Runtime, servers: tuple[FakePostgres, FakePostgres]
) -> None:
    client, _ = api
    a, _ = servers
    created = ok(await client.post(BASE, json=fields(a)))
    renamed = ok(await client.put(BASE, json={**created, "comment": "the warehouse", "read_only": False}))
    assert renamed["comment"] == "the warehouse"
    assert runtime.datasources.resolve(created["id"]).db_pwd == SECRET
