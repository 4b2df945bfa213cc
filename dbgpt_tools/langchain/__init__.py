"""LangChain tools generated from the catalogue: one tool per operation, for agents and pipelines.

    from dbgpt_tools.langchain import get_tools
    tools = get_tools()  # on the shared runtime, built from the DBGPT_* settings on first call

Each call runs its operation on the process-wide background loop (`dbgpt_tools.aio`), from `invoke` and
`ainvoke` alike, so a runtime is never driven from two event loops. Refusals (`DbgptError`) and bad
arguments come back as the tool's output with status "error", so an agent reads them and can try again.
The result model is the content, as JSON; an operation that `returns_data` also hands its result model
over as the tool message's artifact.
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit, StructuredTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dbgpt_tools.aio import run_async, run_sync, shared_runtime
from dbgpt_tools.errors import DbgptError
from dbgpt_tools.operations import (
    OPERATIONS,
    Operation,
    RunSqlArgs,
    SchemaArgs,
    describe_schema,
    invalid_input,
    run_sql,
)
from dbgpt_tools.runtime import Runtime

ToolOutput = str | tuple[str, BaseModel]


def operation_tool(operation: Operation, runtime: Runtime | None = None) -> StructuredTool:
    """The tool running one catalogue operation on `runtime` (default: the shared runtime, at call time)."""

    async def run(**arguments: Any) -> ToolOutput:
        args = operation.args_model.model_validate(arguments)
        try:
            result = await operation.run(runtime or shared_runtime(), args, None)
        except DbgptError as exc:
            raise ToolException(exc.message) from exc
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
        handle_validation_error=_describe_invalid_arguments,  # type: ignore[arg-type]  # our models are pydantic v2
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


class ListTablesInput(BaseModel):
    """Input of `sql_db_list_tables` (LangChain's name and argument)."""

    tool_input: str = Field(default="", description="An empty string")


class SchemaInput(BaseModel):
    """Input of `sql_db_schema` (LangChain's name and argument)."""

    table_names: str = Field(
        description="A comma-separated list of the table names for which to return the schema. "
        "Example input: 'table1, table2, table3'"
    )


class QueryInput(BaseModel):
    """Input of `sql_db_query` (LangChain's name and argument)."""

    query: str = Field(description="A detailed and correct SQL query.")


def sql_database_tools(datasource: str, runtime: Runtime | None = None) -> list[BaseTool]:
    """Drop-in replacements for LangChain's `sql_db_list_tables`, `sql_db_schema` and `sql_db_query` on one
    datasource, with this project's safety (read-only, one statement, row cap, timeout) and richer schemas.

    Like LangChain's SQL tools, refusals and SQL errors come back as "Error: ..." text so the agent can retry.
    """

    async def call(run: Any, args: BaseModel) -> Any:
        return await run_async(run(runtime or shared_runtime(), args, None))

    def guarded(function: Any) -> Any:
        async def wrapper(**arguments: Any) -> str:
            try:
                return await function(**arguments)
            except DbgptError as exc:
                return f"Error: {exc.message}"

        return wrapper

    async def list_tables(tool_input: str = "") -> str:
        schema = await call(describe_schema, SchemaArgs(datasource=datasource, tables=[]))
        return ", ".join(schema.tables)

    async def table_schema(table_names: str) -> str:
        names = [name.strip() for name in table_names.split(",") if name.strip()]
        if not names:
            return "Error: give at least one table name"
        schema = await call(describe_schema, SchemaArgs(datasource=datasource, tables=names))
        return schema.schema_text

    async def query(query: str) -> str:
        result = await call(run_sql, RunSqlArgs(datasource=datasource, sql=query))
        text = str([tuple(row) for row in result.rows])
        return f"{text}\n(truncated at {result.limit_applied} rows)" if result.truncated else text

    specs = [
        ("sql_db_list_tables", "Input is an empty string, output is a comma-separated list of tables in the "
         f"database {datasource}.", ListTablesInput, list_tables),
        ("sql_db_schema", "Input to this tool is a comma-separated list of tables, output is the schema (CREATE "
         "TABLE with keys, comments, row counts and sample values) for those tables. Be sure that the tables "
         "actually exist by calling sql_db_list_tables first!", SchemaInput, table_schema),
        ("sql_db_query", "Input to this tool is a detailed and correct SQL query, output is a result from the "
         "database. If the query is not correct, an error message will be returned. If an error is returned, "
         "rewrite the query, check the query, and try again. Only read queries run on a read-only datasource.",
         QueryInput, query),
    ]
    tools: list[BaseTool] = []
    for name, description, args_schema, function in specs:
        coroutine = guarded(function)
        tools.append(
            StructuredTool(
                name=name,
                description=description,
                args_schema=args_schema,
                coroutine=coroutine,
                func=lambda _c=coroutine, **kw: run_sync(_c(**kw)),
            )
        )
    return tools
