"""With API keys configured, the web UI logs in at `/login`: a key is exchanged for an HttpOnly, SameSite=Strict
session cookie that `/api` (v1 and v2) and `/mcp` accept like the key, until it expires or the user logs out. Pages
without a session go to the login first; the files they load, `/health` and the login page stay public."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from dbgpt_tools.login_sessions import LoginSessions
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.store.models import LoginSessionRow, utcnow
from tests.envelope import data
from tests.scripted import ScriptedChatModel
from tests.server.webui_files import UI_FILES, browser, write_ui

pytestmark = pytest.mark.anyio
DATASOURCES = "/api/v2/serve/datasources"


@pytest.fixture
def runtime(settings: Settings, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime with the test key (`test-key`) and the stand-in UI."""
    webui = write_ui(tmp_path / "webui")
    rt = Runtime(settings.model_copy(update={"webui_dir": webui}), chat_model=ScriptedChatModel.replying())
    yield rt
    rt.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(runtime) as client:
        yield client


async def log_in(client: httpx.AsyncClient, key: str = "test-key", next_path: str = "/") -> httpx.Response:
    return await client.post("/login", data={"key": key, "next": next_path})


def set_cookie(response: httpx.Response) -> list[str]:
    """The attributes of the response's one Set-Cookie header, lower-cased (the first is `name=value`)."""
    [header] = response.headers.get_list("set-cookie")
    return [part.strip().lower() for part in header.split(";")]


async def test_without_a_session_api_and_mcp_refuse_and_pages_go_to_the_login(client: httpx.AsyncClient) -> None:
    for method, path in [("GET", DATASOURCES), ("POST", "/api/v1/chat/dialogue/list"), ("GET", "/api/v1/unknown"),
                         ("POST", "/mcp")]:  # fmt: skip
        assert data(await client.request(method, path), 401)["err_code"] == "401", path
    page = await client.get("/construct/database/?tab=1")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/construct/database/%3Ftab%3D1"
    assert (await client.get("/")).headers["location"] == "/login?next=/"
    assert (await client.get("/_next/static/chunks/app.js")).status_code == 200  # what a page loads is public
    assert (await client.get("/LOGO.png")).status_code == 200
    assert (await client.get("/health")).status_code == 200
    form = await client.get("/login?next=/chat/")
    assert form.status_code == 200 and "<form method='post' action='/login'>" in form.text
    assert "value='/chat/'" in form.text and form.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in form.headers["content-security-policy"]


async def test_a_wrong_key_is_refused_and_gets_no_cookie(client: httpx.AsyncClient) -> None:
    for key in ("wrong-key", "", "test-key-and-more"):
        refused = await log_in(client, key)
        assert refused.status_code == 401 and "That key is not accepted." in refused.text
        assert "set-cookie" not in refused.headers
    assert data(await client.get(DATASOURCES), 401)


async def test_a_session_cookie_works_like_the_key_on_api_v1_v2_and_mcp(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    response = await log_in(client, next_path="/chat/")
    assert response.status_code == 303 and response.headers["location"] == "/chat/"
    assert data(await client.get(DATASOURCES)) == []
    assert data(await client.get("/api/v1/no/such/route"), 404)["err_code"] == "404"  # past the key check
    mcp = await client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert mcp.status_code == 200 and "run_sql" in mcp.text
    page = await client.get("/chat/")
    assert page.status_code == 200 and page.text == UI_FILES["chat/index.html"]
    assert "You are logged in" in (await client.get("/login")).text
    # a Bearer key, when sent, is what counts: a wrong one is refused even beside a live session
    assert data(await client.get(DATASOURCES, headers={"Authorization": "Bearer nope"}), 401)


async def test_the_cookie_is_httponly_strict_site_wide_and_lasts_the_session_ttl(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    attributes = set_cookie(await log_in(client))
    name, _, token = attributes[0].partition("=")
    assert name == "dbgpt_session" and len(token) >= 43
    assert {"httponly", "samesite=strict", "path=/", f"max-age={int(runtime.settings.session_ttl)}"} <= set(attributes)
    assert "secure" not in attributes  # plain http on loopback: a Secure cookie would never come back
    async with browser(runtime, base_url="https://127.0.0.1:5670") as secure_client:
        assert "secure" in set_cookie(await log_in(secure_client))
    assert set_cookie(await log_in(client))[0] != attributes[0]  # every login gets a fresh random token


async def test_the_store_keeps_only_a_hash_of_the_token(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await log_in(client)
    token = client.cookies["dbgpt_session"]
    with runtime.store.session() as session:
        [row] = session.scalars(select(LoginSessionRow)).all()
        columns = (row.token_hash, row.key_binding)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in value and "test-key" not in value for value in columns)
    expected_life = timedelta(seconds=runtime.settings.session_ttl)
    assert abs(row.expires_at.replace(tzinfo=None) - row.created_at.replace(tzinfo=None) - expected_life) < timedelta(
        seconds=1
    )


async def test_an_expired_session_is_refused(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await log_in(client)
    assert data(await client.get(DATASOURCES)) == []
    with runtime.store.session() as session:
        session.execute(update(LoginSessionRow).values(expires_at=utcnow() - timedelta(seconds=1)))
    body = data(await client.get(DATASOURCES), 401)
    assert "expired" in body["err_msg"]
    assert (await client.get("/chat/")).status_code == 303
    await log_in(client)  # logging in again sweeps the expired session out
    with runtime.store.session() as session:
        assert len(session.scalars(select(LoginSessionRow)).all()) == 1


async def test_logout_ends_the_session_and_clears_the_cookie(client: httpx.AsyncClient) -> None:
    await log_in(client)
    token = client.cookies["dbgpt_session"]
    response = await client.post("/logout")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    attributes = set_cookie(response)
    assert attributes[0] in ('dbgpt_session=""', "dbgpt_session=") and "max-age=0" in attributes
    assert data(await client.get(DATASOURCES), 401)
    client.cookies.set("dbgpt_session", token)  # the old token, kept by someone, is dead too
    assert data(await client.get(DATASOURCES), 401)


async def test_a_session_ends_when_its_key_is_no_longer_configured(runtime: Runtime) -> None:
    token = runtime.logins.open("test-key")
    assert runtime.logins.admits(token)
    rotated = runtime.settings.model_copy(update={"api_keys": Settings(api_keys="other-key").api_keys})
    assert not LoginSessions(runtime.store, rotated).admits(token)
    kept = runtime.settings.model_copy(update={"api_keys": Settings(api_keys="other-key,test-key").api_keys})
    assert LoginSessions(runtime.store, kept).admits(token)
    assert not runtime.logins.admits(token[:-1]) and not runtime.logins.admits("x" * 10_000)


async def test_login_only_sends_back_to_pages_of_this_server(client: httpx.AsyncClient) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "/login?next=/x", "javascript:x"):
        response = await log_in(client, next_path=target)
        assert response.status_code == 303 and response.headers["location"] == "/", target
    form = await client.get("/login", params={"next": "//evil.example/'><script>"})
    assert "evil" not in form.text


async def test_without_keys_there_is_nothing_to_log_in_to(settings: Settings, tmp_path: Path) -> None:
    webui = write_ui(tmp_path / "open-webui")
    runtime = Runtime(
        settings.model_copy(update={"api_keys": [], "webui_dir": webui}), chat_model=ScriptedChatModel.replying()
    )
    try:
        async with browser(runtime) as client:
            assert (await client.get("/chat/")).text == UI_FILES["chat/index.html"]
            assert data(await client.get(DATASOURCES)) == []
            login = await client.get("/login?next=/chat/")
            assert login.status_code == 303 and login.headers["location"] == "/chat/"
            posted = await log_in(client)
            assert posted.status_code == 303 and "set-cookie" not in posted.headers
    finally:
        runtime.close()
