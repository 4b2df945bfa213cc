"""The MCP server: one tool per catalogue operation, served over stdio or streamable HTTP at `/mcp`."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from dbgpt_tools.errors import DbgptError, validated
from dbgpt_tools.operations import OPERATIONS
from dbgpt_tools.operations.base import AnyOperation
from dbgpt_tools.runtime import Runtime

INSTRUCTIONS = (
    "DB-GPT tools: chat with an LLM (chat_normal), and with your databases and documents. "
    "Each answer returns a conv_uid; pass it again to continue the conversation."
)


def _parameters(args_model: type[BaseModel]) -> list[inspect.Parameter]:
    """The operation's arguments as keyword-only parameters, so the tool schema is the args model's."""
    parameters = []
    for name, field in args_model.model_fields.items():
        # Built at run time from the field (type, constraints, description); mypy cannot follow a dynamic Annotated.
        annotation = Annotated[(field.annotation, *field.metadata, Field(description=field.description))]  # type: ignore[name-defined]
        default = inspect.Parameter.empty if field.is_required() else field.get_default(call_default_factory=True)
        parameters.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        )
    return parameters


def tool_result(result: BaseModel) -> CallToolResult:
    """The tool's answer: the result as JSON text and as structured content (built off the event loop)."""
    data = result.model_dump(mode="json")
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def tool_function(operation: AnyOperation, runtime: Runtime) -> Callable[..., Awaitable[CallToolResult]]:
    """An async function running `operation`, whose signature MCP turns into the tool's input schema."""

    async def call(ctx: Context, **arguments: Any) -> CallToolResult:
        async def progress(done: float, total: float | None, message: str) -> None:
            await ctx.report_progress(done, total, message)

        try:
            args = validated(operation.args_model, arguments)
            result: BaseModel = await operation.invoke(runtime, args, progress)
        except DbgptError as exc:
            raise ToolError(exc.message) from exc
        return await asyncio.to_thread(tool_result, result)

    context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)
    call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # inspect reads it; functions accept it
        [context, *_parameters(operation.args_model)], return_annotation=operation.result_model
    )
    call.__name__ = operation.name
    return call


def build_mcp_server(runtime: Runtime) -> MCPServer:
    """The MCP server exposing every catalogue operation as a tool on `runtime`."""
    server: MCPServer = MCPServer(name="dbgpt-tools", instructions=INSTRUCTIONS, log_level="WARNING")
    for operation in OPERATIONS:
        server.add_tool(
            tool_function(operation, runtime),
            name=operation.name,
            title=operation.title,
            description=operation.description,
            annotations=ToolAnnotations(
                title=operation.title,
                readOnlyHint=operation.read_only,
                destructiveHint=operation.destructive,
                idempotentHint=operation.idempotent,
                openWorldHint=False,
            ),
        )
    return server
