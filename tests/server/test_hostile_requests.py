"""Hostile and malformed requests through REST and MCP: each is answered with a JSON body (a 4xx, or a failed
connection test) or an error result on MCP, never a 500 or a traceback, and the server answers normally afterwards."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.types import TextContent

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server.app import create_app
from server.mcp import build_mcp_server
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": "Bearer test-key"}
DS = "/api/v2/serve/datasources"
CHAT = "/api/v2/chat/completions"
DEEP_SQL = "SELECT " + "(" * 5000 + "1" + ")" * 5000
SURROGATE_JSON = b'{"model": "m", "messages": "hi \\ud800 there"}'


def nested(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": "hello", "stream": False, **fields}


def sqlite_ds(**fields: Any) -> dict[str, Any]:
    return {"db_name": "probe", "db_type": "sqlite", "db_path": "probe.db", "read_only": False, **fields}


# (id, method, path, json body or raw bytes, expected status)
REST_CASES: list[tuple[str, str, str, Any, int]] = [
    ("deep-json-chat", "POST", CHAT, nested(100_000), 400),
    ("deep-json-datasource", "POST", DS, nested(5000), 400),
    ("deep-sql", "POST", f"{DS}/sample_sales/query", {"sql": DEEP_SQL}, 400),
    ("nul-in-path", "POST", DS, sqlite_ds(db_path="a\x00b.db"), 400),
    ("memory-path", "POST", DS, sqlite_ds(db_path=":memory:"), 400),
    ("motherduck-path", "POST", DS, sqlite_ds(db_type="duckdb", db_path="md:my_db"), 400),
    ("uri-path", "POST", DS, sqlite_ds(db_path="x.db?mode=rwc"), 400),
    (
        "5001-digit-limit",
        "POST",
        f"{DS}/sample_sales/query",
        b'{"sql": "SELECT 1", "limit": ' + b"9" * 5001 + b"}",
        400,
    ),
    ("limit-true", "POST", f"{DS}/sample_sales/query", {"sql": "SELECT 1", "limit": True}, 400),
    ("limit-float", "POST", f"{DS}/sample_sales/query", {"sql": "SELECT 1", "limit": 1.5}, 400),
    ("huge-id", "GET", f"{DS}/12345678901234567890123456", None, 400),
    ("zero-id", "GET", f"{DS}/0", None, 400),
    ("superscript-id", "GET", f"{DS}/³", None, 400),
    ("superscript-chat-param", "POST", CHAT, chat(chat_mode="chat_data", chat_param="³"), 404),
    ("empty-chat-param", "POST", CHAT, chat(chat_mode="chat_data", chat_param=""), 400),
    (
        "non-latin-1-mysql-password",
        "POST",
        f"{DS}/test-connection",
        {"db_name": "m", "db_type": "mysql", "db_host": "127.0.0.1", "db_port": 1, "db_pwd": "Ā€"},
        400,  # the connection test fails (nothing listens): a 400, not a 500 on the password's encoding
    ),
    ("lone-surrogate", "POST", CHAT, SURROGATE_JSON, 400),
    ("numeric-name", "POST", DS, sqlite_ds(db_name="2"), 400),
    ("same-name-other-case", "POST", DS, sqlite_ds(db_name="SAMPLE_SALES"), 409),
    ("conv-uid-path", "POST", CHAT, chat(conv_uid="../../etc/passwd"), 400),
    ("5-MB-comment", "POST", DS, sqlite_ds(comment="x" * 5_000_000), 400),
    ("1-MB-host", "POST", DS, {"db_name": "h", "db_type": "postgresql", "db_host": "h" * 1_000_000}, 400),
    ("9-MB-body", "POST", DS, b'{"comment": "' + b"x" * 9_000_000 + b'"}', 413),
    ("array-body", "POST", DS, [1, 2], 400),
    ("string-body", "POST", CHAT, "hello", 400),
    ("empty-body", "POST", CHAT, b"", 400),
    ("bad-utf8", "POST", CHAT, b'{"messages": "\xff\xfe"}', 400),
    ("no-messages", "POST", CHAT, {"model": "m", "messages": []}, 400),
    ("blank-messages", "POST", CHAT, {"model": "m", "messages": "   "}, 400),
    ("bad-role", "POST", CHAT, {"model": "m", "messages": [{"role": "root", "content": "x"}]}, 400),
    ("bad-mode", "POST", CHAT, chat(chat_mode="chat_everything"), 400),
    ("bool-temperature", "POST", CHAT, chat(temperature="hot"), 400),
    ("nan-temperature", "POST", CHAT, b'{"model": "m", "messages": "x", "temperature": NaN}', 400),
    ("huge-max-tokens", "POST", CHAT, chat(max_new_tokens=10**30), 400),
    ("schema-max-tokens", "GET", f"{DS}/sample_sales/schema?max_tokens=" + "9" * 5000, None, 400),
    ("unknown-type", "POST", DS, {"db_name": "o", "db_type": "oracle", "db_host": "h"}, 400),
    ("port-string", "POST", DS, {"db_name": "p", "db_type": "mysql", "db_host": "h", "db_port": "x"}, 400),
    ("host-with-path", "POST", DS, {"db_name": "p", "db_type": "postgresql", "db_host": "/var/run/postgresql"}, 400),
    ("own-store", "POST", DS, sqlite_ds(db_path="metadata.db"), 403),
    ("outside-roots", "POST", DS, sqlite_ds(db_path="/etc/passwd", read_only=True), 400),
    ("wrong-method", "PATCH", DS, {}, 405),
    ("unknown-path", "GET", "/api/v2/serve/nothing-here", None, 404),
]


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=ScriptedChatModel.replying())
    app = create_app(runtime, owns_runtime=True)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://127.0.0.1",
            headers=AUTH,
        ) as client,
    ):
        yield client


async def send(client: httpx.AsyncClient, method: str, path: str, body: Any) -> httpx.Response:
    if body is None:
        return await client.request(method, path)
    if isinstance(body, bytes):
        return await client.request(method, path, content=body, headers={"Content-Type": "application/json"})
    return await client.request(method, path, json=body)


@pytest.mark.parametrize(("case", "method", "path", "body", "status"), REST_CASES, ids=[c[0] for c in REST_CASES])
async def test_a_hostile_request_is_a_4xx_with_a_json_body(
    api: httpx.AsyncClient, case: str, method: str, path: str, body: Any, status: int
) -> None:
    response = await send(api, method, path, body)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    text = response.text
    assert isinstance(response.json(), dict) and "Traceback" not in text and len(text) < 5000
    health = await api.get("/health")
    assert health.status_code == 200
    sample = await api.post(f"{DS}/sample_sales/query", json={"sql": "SELECT 1 AS one"})
    assert sample.json()["data"]["rows"] == [[1]]


# (id, tool, arguments, words of the error)
MCP_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("deep-sql", "run_sql", {"datasource": "sample_sales", "sql": DEEP_SQL}, "nested too deeply"),
    ("huge-limit", "run_sql", {"datasource": "sample_sales", "sql": "SELECT 1", "limit": 10**30}, "limit"),
    ("bool-limit", "run_sql", {"datasource": "sample_sales", "sql": "SELECT 1", "limit": True}, "limit"),
    ("superscript", "run_sql", {"datasource": "³", "sql": "SELECT 1"}, "datasource"),
    ("surrogate", "chat", {"question": "hi \ud800"}, "question"),
    ("conv-uid-path", "get_conversation", {"conv_uid": "../../etc/passwd"}, "conv_uid"),
    ("nul-path", "create_datasource", sqlite_ds(db_path="a\x00b.db"), "db_path"),
    ("numeric-name", "create_datasource", sqlite_ds(db_name="2"), "db_name"),
    ("own-store", "create_datasource", sqlite_ds(db_path="metadata.db"), "own files"),
    ("big-comment", "create_datasource", sqlite_ds(comment="x" * 5_000_000), "comment"),
    ("huge-question", "ask_data", {"datasource": "sample_sales", "question": "x" * 200_000}, "question"),
    ("schema-budget", "describe_schema", {"datasource": "sample_sales", "max_tokens": 10**12}, "max_tokens"),
    ("same-name", "create_datasource", sqlite_ds(db_name="Sample_Sales"), "already exists"),
]


@pytest.mark.parametrize(("case", "tool", "arguments", "words"), MCP_CASES, ids=[c[0] for c in MCP_CASES])
async def test_a_hostile_tool_call_is_a_tool_error(
    settings: Settings, case: str, tool: str, arguments: dict[str, Any], words: str
) -> None:
    runtime = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=ScriptedChatModel.replying())
    try:
        async with Client(build_mcp_server(runtime)) as client:
            result = await client.call_tool(tool, arguments)
            first = result.content[0] if result.content else None
            text = first.text if isinstance(first, TextContent) else ""
            assert result.is_error and words in text, text[:500]
            assert "Traceback" not in text and len(text) < 5000
            listed = await client.call_tool("list_datasources", {})
            assert not listed.is_error
            names = [d["db_name"] for d in json.loads(listed.content[0].text)["datasources"]]  # type: ignore[union-attr]
            assert names == ["sample_sales", "sample_logistics"]  # nothing was registered
    finally:
        runtime.close()
