"""Drop-in replacements for LangChain's SQL database tools, on one datasource, with this project's safety."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from dbgpt_tools.aio import run_async, run_sync, shared_runtime
from dbgpt_tools.errors import DbgptError
from dbgpt_tools.operations.sql import RunSqlArgs, SchemaArgs, describe_schema, run_sql
from dbgpt_tools.runtime import Runtime


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

    def current() -> Runtime:
        return runtime or shared_runtime()

    def guarded(function: Callable[..., Awaitable[str]]) -> Callable[..., Awaitable[str]]:
        async def wrapper(**arguments: Any) -> str:
            try:
                return await function(**arguments)
            except DbgptError as exc:
                return f"Error: {exc.message}"

        return wrapper

    async def list_tables(tool_input: str = "") -> str:
        schema = await run_async(describe_schema(current().schemas, SchemaArgs(datasource=datasource, tables=[])))
        return ", ".join(schema.tables)

    async def table_schema(table_names: str) -> str:
        names = [name.strip() for name in table_names.split(",") if name.strip()]
        if not names:
            return "Error: give at least one table name"
        schema = await run_async(describe_schema(current().schemas, SchemaArgs(datasource=datasource, tables=names)))
        return schema.schema_text

    async def query(query: str) -> str:
        result = await run_async(run_sql(current().sql, RunSqlArgs(datasource=datasource, sql=query)))
        text = str([tuple(row) for row in result.rows])
        cut = result.truncation()
        return f"{text}\n({cut})" if cut else text

    specs: list[tuple[str, str, type[BaseModel], Callable[..., Awaitable[str]]]] = [
        (
            "sql_db_list_tables",
            f"Input is an empty string, output is a comma-separated list of tables in the database {datasource}.",
            ListTablesInput,
            list_tables,
        ),
        (
            "sql_db_schema",
            "Input to this tool is a comma-separated list of tables, output is the schema (CREATE "
            "TABLE with keys, comments, row counts and sample values) for those tables. Be sure that the tables "
            "actually exist by calling sql_db_list_tables first!",
            SchemaInput,
            table_schema,
        ),
        (
            "sql_db_query",
            "Input to this tool is a detailed and correct SQL query, output is a result from the "
            "database. If the query is not correct, an error message will be returned. If an error is returned, "
            "rewrite the query, check the query, and try again. Only read queries run on a read-only datasource.",
            QueryInput,
            query,
        ),
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
