"""LangChain tools generated from the catalogue: one tool per operation, for agents and pipelines.

    from dbgpt_tools.langchain import get_tools
    tools = get_tools()  # on the shared runtime, built from the DBGPT_* settings on first call

Each call runs its operation on the process-wide background loop (`dbgpt_tools.aio`), from `invoke` and
`ainvoke` alike, so a runtime is never driven from two event loops. Refusals (`DbgptError`) and bad
arguments come back as the tool's output with status "error", so an agent reads them and can try again.
The result model is the content, as JSON; an operation that `returns_data` also hands its result model
over as the tool message's artifact. `search_knowledge` is a drop-in retriever tool: its content is the cited
chunks as text, its artifact the chunks as LangChain `Document`s.
"""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langchain_core.tools import BaseTool, BaseToolkit, StructuredTool, ToolException
from pydantic import BaseModel, ConfigDict, ValidationError

from dbgpt_tools.aio import run_async, run_sync, shared_runtime
from dbgpt_tools.errors import DbgptError, invalid_input
from dbgpt_tools.knowledge.models import Retrieval
from dbgpt_tools.langchain.retriever import retrieval_documents, retrieval_text
from dbgpt_tools.operations import OPERATIONS
from dbgpt_tools.operations.base import AnyOperation
from dbgpt_tools.runtime import Runtime

ToolOutput = str | tuple[str, BaseModel] | tuple[str, list[Document]]


def operation_tool(operation: AnyOperation, runtime: Runtime | None = None) -> StructuredTool:
    """The tool running one catalogue operation on `runtime` (default: the shared runtime, at call time)."""

    async def run(**arguments: Any) -> ToolOutput:
        args = operation.args_model.model_validate(arguments)
        try:
            result = await operation.invoke(runtime or shared_runtime(), args)
        except DbgptError as exc:
            raise ToolException(exc.message) from exc
        if isinstance(result, Retrieval):  # a drop-in retriever tool: cited text, and LangChain documents
            return retrieval_text(result), retrieval_documents(result)
        content = result.model_dump_json()
        return (content, result) if operation.returns_data else content

    async def run_on_shared_loop(**arguments: Any) -> ToolOutput:
        return await run_async(run(**arguments))

    def run_blocking(**arguments: Any) -> ToolOutput:
        return run_sync(run(**arguments))

    return StructuredTool(
        name=operation.name,
        description=operation.description,
        args_schema=operation.args_model,
        func=run_blocking,
        coroutine=run_on_shared_loop,
        response_format="content_and_artifact" if operation.returns_data else "content",
        handle_tool_error=True,
        handle_validation_error=_describe_invalid_arguments,
        metadata={
            "read_only": operation.read_only,
            "destructive": operation.destructive,
            "idempotent": operation.idempotent,
        },
    )


def _describe_invalid_arguments(error: ValidationError) -> str:
    return f"invalid arguments: {invalid_input(error).message}"


def get_tools(runtime: Runtime | None = None) -> list[BaseTool]:
    """Every catalogue operation as a LangChain tool, on `runtime` (default: the shared runtime)."""
    return [operation_tool(operation, runtime) for operation in OPERATIONS]


class DbgptToolkit(BaseToolkit):
    """The catalogue's tools as a LangChain toolkit, on `runtime` (default: the shared runtime)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    runtime: Runtime | None = None

    def get_tools(self) -> list[BaseTool]:
        """One tool per catalogue operation."""
        return get_tools(self.runtime)
