"""The LangChain face, invoked as an agent would: tool calls in, ToolMessages out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests
from pydantic import BaseModel, ValidationError

from dbgpt_tools.aio import background_loop, use_runtime
from dbgpt_tools.chat.models import ChatResult
from dbgpt_tools.langchain import DbgptToolkit, get_tools, operation_tool
from dbgpt_tools.operations import OPERATIONS
from dbgpt_tools.operations.base import Operation
from dbgpt_tools.operations.chat import ChatArgs
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.sql.results import QueryResult
from tests.scripted import ScriptedChatModel

CHAT = next(operation for operation in OPERATIONS if operation.name == "chat")


def tool_named(tools: list[BaseTool], name: str) -> BaseTool:
    return next(tool for tool in tools if tool.name == name)


def call(name: str, args: dict[str, Any], call_id: str = "call-1") -> dict[str, Any]:
    """A tool call as a chat model emits it."""
    return {"type": "tool_call", "id": call_id, "name": name, "args": args}


def chat_result(message: ToolMessage) -> ChatResult:
    """The chat result a tool message carries as JSON."""
    assert isinstance(message.content, str)
    return ChatResult.model_validate_json(message.content)


@pytest.fixture
def chat_tool(runtime: Runtime) -> BaseTool:
    return tool_named(DbgptToolkit(runtime=runtime).get_tools(), "chat")


def test_one_tool_per_operation_with_its_schema() -> None:
    tools = DbgptToolkit().get_tools()
    assert [tool.name for tool in tools] == [operation.name for operation in OPERATIONS]
    for tool, operation in zip(tools, OPERATIONS, strict=True):
        assert tool.description == operation.description and tool.args_schema is operation.args_model
        assert tool.metadata == {
            "read_only": operation.read_only,
            "destructive": operation.destructive,
            "idempotent": operation.idempotent,
        }


def test_tool_call_returns_a_tool_message_with_the_result(chat_tool: BaseTool) -> None:
    message = chat_tool.invoke(call("chat", {"question": "Say hello."}))
    assert isinstance(message, ToolMessage) and message.status == "success"
    assert message.tool_call_id == "call-1" and message.name == "chat"
    result = chat_result(message)
    assert result.content == "Hello there friend" and result.model == "scripted" and result.conv_uid


@pytest.mark.anyio
async def test_ainvoke_runs_on_the_shared_loop(runtime: Runtime) -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def record_loop(rt: Runtime, args: ChatArgs, progress: Any) -> BaseModel:
        loops.append(asyncio.get_running_loop())
        return await CHAT.invoke(rt, args, progress)

    tool = operation_tool(
        Operation("probe", "Probe", "Records its loop.", ChatArgs, ChatResult, lambda rt: rt, record_loop), runtime
    )
    message = await tool.ainvoke(call("probe", {"question": "Say hello."}))
    assert chat_result(message).content == "Hello there friend"
    assert loops == [background_loop()] and loops[0] is not asyncio.get_running_loop()


def test_plain_invoke_without_a_tool_call_returns_the_json_text(chat_tool: BaseTool) -> None:
    assert json.loads(chat_tool.invoke({"question": "Say hello."}))["content"] == "Hello there friend"


def test_conversation_continues_through_the_returned_conv_uid(chat_tool: BaseTool, scripted: ScriptedChatModel) -> None:
    first = chat_result(chat_tool.invoke(call("chat", {"question": "My cat is Tom."})))
    chat_tool.invoke(call("chat", {"question": "What is my cat called?", "conv_uid": first.conv_uid}, "call-2"))
    assert scripted.texts(1)[1:] == ["My cat is Tom.", "Hello there friend", "What is my cat called?"]


def test_core_refusal_is_the_tool_output_with_error_status(runtime: Runtime) -> None:
    tools = get_tools(runtime)
    missing = tool_named(tools, "get_conversation").invoke(call("get_conversation", {"conv_uid": "nope"}))
    assert missing.status == "error" and missing.content == "no conversation with conv_uid 'nope'"
    mode = tool_named(tools, "chat").invoke(call("chat", {"question": "hi", "chat_mode": "chat_flow"}))
    assert mode.status == "error" and mode.content == "chat_param must name the flow (its uid) for chat_flow"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "hi", "temperature": 5}, "temperature"),
        ({"question": "hi", "chat_mode": "chat_nonsense"}, "chat_mode"),
    ],
)
def test_bad_arguments_are_refused_before_the_model_runs(
    chat_tool: BaseTool, scripted: ScriptedChatModel, args: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError):
        ChatArgs.model_validate(args)  # the tool's args_schema
    assert chat_tool.args_schema is ChatArgs
    message = chat_tool.invoke(call("chat", args))
    assert message.status == "error" and message.content.startswith(f"invalid arguments: {field}: ")
    assert not scripted.calls


def test_tools_without_a_runtime_use_the_shared_one_at_call_time(runtime: Runtime) -> None:
    tool = tool_named(get_tools(), "chat")
    use_runtime(runtime)
    try:
        message = tool.invoke(call("chat", {"question": "Say hello."}))
    finally:
        use_runtime(None)
    assert chat_result(message).content == "Hello there friend"


def test_an_operation_returning_data_hands_over_its_result_as_artifact(runtime: Runtime) -> None:
    class NoArgs(BaseModel):
        pass

    rows = QueryResult(
        columns=["n"],
        rows=[[1], [2]],
        row_count=2,
        truncated=False,
        limit_applied=100,
        elapsed_ms=1.0,
        sql="SELECT n FROM t",
    )

    async def query(rt: Runtime, args: NoArgs, progress: object) -> QueryResult:
        return rows

    operation = Operation("rows", "Rows", "Returns rows.", NoArgs, QueryResult, lambda rt: rt, query, returns_data=True)
    tool = operation_tool(operation, runtime)
    message = tool.invoke(call("rows", {}))
    assert tool.response_format == "content_and_artifact"
    assert message.artifact == rows and json.loads(message.content)["rows"] == [[1], [2]]


@pytest.mark.local_model
def test_real_local_model_answers_through_the_tool(local_runtime: Runtime) -> None:
    tool = tool_named(get_tools(local_runtime), "chat")
    message = tool.invoke(call("chat", {"question": "Name one colour.", "max_new_tokens": 8}))
    result = chat_result(message)
    assert message.status == "success" and result.content.strip() and result.model == "smollm2-135m"
    assert result.usage.completion_tokens > 0


class TestChatToolStandard(ToolsUnitTests):
    """langchain-tests' standard unit tests for the chat tool."""

    @property
    def tool_constructor(self) -> BaseTool:
        return operation_tool(CHAT)

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"question": "Say hello."}


@pytest.mark.anyio
class TestChatToolStandardInvocation(ToolsIntegrationTests):
    """langchain-tests' standard invocation tests for the chat tool, on the scripted runtime."""

    @property
    def tool_constructor(self) -> BaseTool:
        return operation_tool(CHAT)

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"question": "Say hello."}

    @pytest.fixture
    def tool(self, runtime: Runtime) -> Iterator[BaseTool]:
        yield operation_tool(CHAT, runtime)
