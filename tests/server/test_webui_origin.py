"""A web page on another site cannot drive the server through its visitor's browser: a loopback server answers
only loopback `Host` names (DNS rebinding), and a write whose `Origin` is not the server's own is refused (CSRF),
even with a valid session cookie. API callers that send no `Origin` (dbgpt-client, the OpenAI SDK, curl) are
unaffected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server.hosts import host_allowed, mcp_transport_security, same_origin, split_host
from tests.envelope import data
from tests.scripted import ScriptedChatModel
from tests.server.webui_files import browser, write_ui

pytestmark = pytest.mark.anyio
DATASOURCES = "/api/v2/serve/datasources"
CHAT = "/api/v2/chat/completions"
TURN = {"conv_uid": "from-a-page", "messages": "Hi"}


@pytest.fixture
def runtime(settings: Settings, tmp_path: Path, scripted: ScriptedChatModel) -> Iterator[Runtime]:
    """A runtime with the test key, the stand-in UI and a model answering 'Hello there friend'."""
    webui = write_ui(tmp_path / "webui")
    rt = Runtime(settings.model_copy(update={"webui_dir": webui}), chat_model=scripted)
    yield rt
    rt.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A browser logged in to http://127.0.0.1:5670."""
    async with browser(runtime) as client:
        assert (await client.post("/login", data={"key": "test-key"})).status_code == 303
        yield client


def forbidden(response: httpx.Response, words: str) -> None:
    body = data(response, 403)
    assert body["err_code"] == "E0003" and words in body["err_msg"], body


async def test_a_foreign_host_is_refused_everywhere(client: httpx.AsyncClient) -> None:
    for path in ("/health", "/", "/chat/", DATASOURCES, "/login", "/mcp"):
        forbidden(await client.get(path, headers={"Host": "rebind.attacker.example:5670"}), "Host")
    forbidden(await client.get("/health", headers={"Host": "127.0.0.1:notaport"}), "Host")
    for host in ("127.0.0.1:5670", "localhost:5670", "LOCALHOST", "[::1]:5670", "127.0.0.1"):
        assert (await client.get("/health", headers={"Host": host})).status_code == 200, host


async def test_a_cross_origin_write_is_refused_even_with_a_session(client: httpx.AsyncClient, runtime: Runtime) -> None:
    for origin in ("https://evil.example", "null", "http://127.0.0.1:5671", "https://127.0.0.1:5670",
                   "http://localhost:5670"):  # fmt: skip  # another port, scheme or name is another origin
        forbidden(await client.post(CHAT, json=TURN, headers={"Origin": origin}), "Origin")
        forbidden(await client.post("/logout", headers={"Origin": origin}), "Origin")
    assert runtime.conversations.history("from-a-page", 10) == []  # no turn was taken
    cross_read = await client.get(DATASOURCES, headers={"Origin": "https://evil.example"})
    assert data(cross_read) == []  # reads are not writes (and a browser hides them from the other site)
    own = await client.post(CHAT, json=TURN, headers={"Origin": "http://127.0.0.1:5670"})
    assert own.status_code == 200 and own.json()["choices"][0]["message"]["content"] == "Hello there friend"
    assert len(runtime.conversations.history("from-a-page", 10)) == 2  # the UI's own writes carry its origin


async def test_login_itself_cannot_be_forced_from_another_site(runtime: Runtime) -> None:
    async with browser(runtime) as client:
        response = await client.post("/login", data={"key": "test-key"}, headers={"Origin": "https://evil.example"})
        forbidden(response, "Origin")
        assert "set-cookie" not in response.headers


async def test_api_callers_without_an_origin_keep_working(runtime: Runtime) -> None:
    async with browser(runtime, headers={"Authorization": "Bearer test-key"}) as client:
        answer = await client.post(CHAT, json=TURN)
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "Hello there friend"


async def test_allowed_hosts_name_a_proxy_and_pin_ports(settings: Settings) -> None:
    loopback = settings.model_copy(update={"allowed_hosts": ["ui.example.org", "db.example.org:8443"]})
    assert host_allowed("ui.example.org", loopback) and host_allowed("UI.example.org:443", loopback)
    assert host_allowed("db.example.org:8443", loopback) and not host_allowed("db.example.org:8444", loopback)
    assert not host_allowed("evil.example", loopback) and host_allowed("localhost:1", loopback)
    public = settings.model_copy(update={"host": "0.0.0.0"})
    assert host_allowed("anything.example", public)  # its API keys are the guard
    pinned = public.model_copy(update={"allowed_hosts": ["db.example.org"]})
    assert host_allowed("db.example.org:5670", pinned) and not host_allowed("other.example", pinned)
    mcp = mcp_transport_security(loopback)
    assert mcp.enable_dns_rebinding_protection and {"ui.example.org:*", "db.example.org:8443"} <= set(mcp.allowed_hosts)
    assert "http://127.0.0.1:*" in mcp.allowed_origins and "https://db.example.org:8443" in mcp.allowed_origins
    assert not mcp_transport_security(public).enable_dns_rebinding_protection


def test_hosts_and_origins_are_compared_by_scheme_name_and_port() -> None:
    assert split_host("[::1]:5670") == ("[::1]", 5670) and split_host("Example.org") == ("example.org", None)
    assert split_host("h:99999999") == ("h", -1)
    assert same_origin("http://[::1]:5670", "[::1]:5670", "http")
    assert same_origin("http://localhost", "localhost:80", "http") and same_origin("https://a.org", "a.org", "https")
    assert not same_origin("http://localhost:80", "localhost:8080", "http")
    assert not same_origin("http://localhost:99999", "localhost", "http")  # a port out of range
