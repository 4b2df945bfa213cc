"""Data operations: describe a schema, run SQL, ask a question answered with SQL (chat_data)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from dbgpt_tools.chat.chart_view import parse_chart_views, strip_chart_views
from dbgpt_tools.chat.models import ChatMode, ChatResult
from dbgpt_tools.errors import NotFound
from dbgpt_tools.operations.base import Operation, Progress
from dbgpt_tools.operations.chat import ChatArgs, chat
from dbgpt_tools.operations.datasources import DatasourceName
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.sql.results import QueryResult
from dbgpt_tools.sql.schema_context import schema_context
from dbgpt_tools.sql.schema_text import render_table


class SchemaArgs(BaseModel):
    """Arguments of `describe_schema`."""

    datasource: str = DatasourceName
    tables: list[str] | None = Field(
        default=None, description="Only these tables (names as listed); [] gives the table names without schema text."
    )
    question: str | None = Field(
        default=None, description="Rank tables by relevance to this question and keep the relevant ones."
    )
    max_tokens: int = Field(default=4000, ge=100, le=100_000, description="Budget of the rendered schema.")


class SchemaDescription(BaseModel):
    """A datasource's schema as CREATE TABLE text with comments, row counts and sample values."""

    datasource: str
    dialect: str
    tables: list[str] = Field(description="Every table of the datasource.")
    schema_text: str


async def describe_schema(runtime: Runtime, args: SchemaArgs, progress: Progress | None = None) -> SchemaDescription:
    """The schema of a datasource: chosen tables, or the tables relevant to a question within a budget."""
    schema = await asyncio.to_thread(runtime.schemas.schema, args.datasource)
    names = [table.name for table in schema.tables]
    if args.tables is not None:
        by_name = {table.name.lower(): table for table in schema.tables}
        unknown = [name for name in args.tables if name.strip().lower() not in by_name]
        if unknown:
            raise NotFound(f"no table {', '.join(unknown)} in {args.datasource}; tables: {', '.join(names)}", field="tables")
        text = "\n".join(render_table(by_name[name.strip().lower()], dialect=schema.dialect) for name in args.tables)
    else:
        text = schema_context(schema, args.question, max_tokens=args.max_tokens)
    return SchemaDescription(datasource=args.datasource, dialect=schema.dialect, tables=names, schema_text=text)


class RunSqlArgs(BaseModel):
    """Arguments of `run_sql`."""

    datasource: str = DatasourceName
    sql: str = Field(min_length=1, description="One SQL statement in the datasource's dialect.")
    limit: int | None = Field(default=None, ge=1, description="Row cap (default 1000); truncated=true if more.")


async def run_sql(runtime: Runtime, args: RunSqlArgs, progress: Progress | None = None) -> QueryResult:
    """Run one statement: read-only unless the datasource is writable; capped rows; time-limited."""
    return await asyncio.to_thread(runtime.datasources.run_sql, args.datasource, args.sql, args.limit)


class AskArgs(BaseModel):
    """Arguments of `ask_data`."""

    datasource: str = DatasourceName
    question: str = Field(min_length=1, description="A question about the data, in plain language.")
    conv_uid: str | None = Field(default=None, max_length=128, description="Continue this conversation.")


class DataAnswer(BaseModel):
    """A chat_data answer: its text, the SQL that ran, and its rows."""

    conv_uid: str
    answer: str = Field(description="The answer text (without chart markup).")
    sql: str | None = Field(description="The query that produced the rows (None when no query ran).")
    chart_type: str | None = None
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)


async def ask_data(runtime: Runtime, args: AskArgs, progress: Progress | None = None) -> DataAnswer:
    """Answer a question about a datasource with SQL (chat_data)."""
    result = await chat(
        runtime,
        ChatArgs(question=args.question, chat_mode=ChatMode.chat_data, chat_param=args.datasource, conv_uid=args.conv_uid),
        progress,
    )
    return data_answer(result)


def data_answer(result: ChatResult) -> DataAnswer:
    """A chat_data result split into its text and its (last) chart-view's SQL and rows."""
    views = parse_chart_views(result.content)
    text = strip_chart_views(result.content).strip()
    if not views:
        return DataAnswer(conv_uid=result.conv_uid, answer=text, sql=None)
    view = views[-1]
    columns = list(view.data[0]) if view.data else []
    rows = [[record.get(column) for column in columns] for record in view.data]
    return DataAnswer(
        conv_uid=result.conv_uid, answer=text, sql=view.sql, chart_type=view.type, columns=columns, rows=rows
    )


SQL_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="describe_schema",
        title="Describe schema",
        description="Show a datasource's tables as CREATE TABLE text with keys, comments, row counts and sample "
        "values: all of them, the named `tables`, or those relevant to a `question` within `max_tokens`.",
        args_model=SchemaArgs,
        result_model=SchemaDescription,
        run=describe_schema,
    ),
    Operation(
        name="run_sql",
        title="Run SQL",
        description="Run ONE SQL statement on a datasource and return columns and rows (at most `limit`, "
        "`truncated` says if more existed). Read-only datasources (the default) accept only SELECT/WITH/EXPLAIN/"
        "SHOW/DESCRIBE/PRAGMA reads; statements are time-limited.",
        args_model=RunSqlArgs,
        result_model=QueryResult,
        run=run_sql,
        read_only=False,
        destructive=True,
        idempotent=False,
        returns_data=True,
    ),
    Operation(
        name="ask_data",
        title="Ask a database",
        description="Answer a plain-language question about a datasource: DB-GPT writes the SQL, runs it safely "
        "and returns the answer text, the SQL and the rows. Pass conv_uid to ask a follow-up.",
        args_model=AskArgs,
        result_model=DataAnswer,
        run=ask_data,
        read_only=False,
        idempotent=False,
        returns_data=True,
    ),
)
