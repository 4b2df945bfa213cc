"""The MCP face through the official MCP client: in process, over streamable HTTP (with the API key) and stdio."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import httpx
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

from dbgpt_tools.operations import OPERATIONS
from dbgpt_tools.runtime import Runtime
from server.app import create_app
from server.mcp import build_mcp_server
from tests.conftest import MODEL_DIR
from tests.live import live_server
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio


@pytest.fixture
def base_url(runtime: Runtime) -> Iterator[str]:
    with live_server(create_app(runtime)) as url:
        yield url


def _http(url: str, key: str | None) -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return Client(streamable_http_client(f"{url}/mcp", http_client=httpx2.AsyncClient(headers=headers)))


async def test_tools_come_from_the_catalogue_with_annotations(runtime: Runtime) -> None:
    async with Client(build_mcp_server(runtime)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {operation.name for operation in OPERATIONS}
    for operation in OPERATIONS:
        tool = tools[operation.name]
        assert tool.description == operation.description
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is operation.read_only
        assert tool.annotations.destructive_hint is operation.destructive
        assert set(tool.input_schema["properties"]) == set(operation.args_model.model_fields)
    assert tools["chat"].input_schema["properties"]["temperature"]["anyOf"][0]["maximum"] == 2


async def test_chat_tool_answers_and_continues_a_conversation(runtime: Runtime, scripted: ScriptedChatModel) -> None:
    async with Client(build_mcp_server(runtime)) as client:
        first = await client.call_tool("chat", {"question": "My name is Ada."})
        assert not first.is_error
        conv = first.structured_content["conv_uid"]
        assert first.structured_content["content"] == "Hello there friend"
        second = await client.call_tool("chat", {"question": "What is my name?", "conv_uid": conv})
        history = await client.call_tool("get_conversation", {"conv_uid": conv})
    assert second.structured_content["conv_uid"] == conv
    assert scripted.texts(1)[1:] == ["My name is Ada.", "Hello there friend", "What is my name?"]
    assert [m["role"] for m in history.structured_content["messages"]] == ["user", "assistant"] * 2


async def test_chat_tool_reports_progress_as_text_arrives(runtime: Runtime) -> None:
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    async with Client(build_mcp_server(runtime)) as client:
        result = await client.call_tool("chat", {"question": "hi"}, progress_callback=on_progress)
    assert "".join(m or "" for m in seen) == result.structured_content["content"]
    assert len(seen) > 1


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("get_conversation", {"conv_uid": "no-such-conversation"}, "no conversation"),
        ("chat", {"question": "hi", "temperature": 9}, "temperature"),
        ("chat", {"question": ""}, "question"),
        ("chat", {"question": "hi", "chat_mode": "chat_flow"}, "chat_param"),
    ],
)
async def test_refusals_are_tool_errors(
    runtime: Runtime, name: str, arguments: dict[str, object], expected: str
) -> None:
    async with Client(build_mcp_server(runtime)) as client:
        result = await client.call_tool(name, arguments)
    assert result.is_error and isinstance(result.content[0], TextContent)
    assert expected in result.content[0].text


async def test_streamable_http_with_key(base_url: str) -> None:
    async with _http(base_url, "test-key") as client:
        result = await client.call_tool("chat", {"question": "hi"})
    assert result.structured_content["content"] == "Hello there friend"


async def test_streamable_http_without_key_is_refused(base_url: str) -> None:
    response = httpx.post(f"{base_url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
    assert response.json()["err_code"] == "401"
    refused = pytest.RaisesGroup(pytest.RaisesExc(MCPError, match="error response"), flatten_subgroups=True)
    with refused:  # the client cannot even start a session
        async with _http(base_url, "wrong-key") as client:
            await client.list_tools()


@pytest.mark.local_model
async def test_stdio_server_answers_with_the_real_local_model(tmp_path) -> None:
    env = {
        **os.environ,
        "DBGPT_DATA_DIR": str(tmp_path),
        "DBGPT_LOCAL_MODEL": "smollm2-135m",
        "DBGPT_MODEL_DIR": str(MODEL_DIR),
        "DBGPT_MAX_NEW_TOKENS": "24",
        "DBGPT_LOCAL_CTX": "2048",
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "server", "mcp"], env=env)
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("chat", {"question": "Name one colour."})
    assert "chat" in names
    assert not result.is_error, result.content
    assert result.structured_content["model"] == "smollm2-135m"
    assert result.structured_content["content"].strip()
    assert result.structured_content["usage"]["completion_tokens"] > 0
