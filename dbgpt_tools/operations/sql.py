"""Data operations: describe a schema, run SQL, ask a question answered with SQL (chat_data)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from dbgpt_tools.chat.models import ChatMode, ChatResult, ConvUid, QueryArtifact
from dbgpt_tools.chat.service import ChatService
from dbgpt_tools.errors import NotFound
from dbgpt_tools.json_types import RowLimit, SchemaBudget
from dbgpt_tools.operations.base import AnyOperation, Operation, Progress
from dbgpt_tools.operations.chat import ChatArgs, chat
from dbgpt_tools.operations.datasources import DatasourceName
from dbgpt_tools.sql.executor import SqlExecutor
from dbgpt_tools.sql.introspection import SchemaCache
from dbgpt_tools.sql.results import QueryResult, Rows
from dbgpt_tools.sql.schema_context import schema_context
from dbgpt_tools.sql.schema_text import render_table


class SchemaArgs(BaseModel):
    """Arguments of `describe_schema`."""

    datasource: str = DatasourceName
    tables: list[Annotated[str, Field(max_length=256)]] | None = Field(
        default=None,
        max_length=2000,
        description="Only these tables (names as listed); [] gives the table names without schema text.",
    )
    question: str | None = Field(
        default=None,
        max_length=4000,
        description="Rank tables by relevance to this question and keep the relevant ones.",
    )
    max_tokens: SchemaBudget = Field(default=4000, description="Budget of the rendered schema.")


class SchemaDescription(BaseModel):
    """A datasource's schema as CREATE TABLE text with comments, row counts and sample values."""

    datasource: str
    dialect: str
    tables: list[str] = Field(description="Every table of the datasource.")
    schema_text: str


async def describe_schema(
    schemas: SchemaCache, args: SchemaArgs, progress: Progress | None = None
) -> SchemaDescription:
    """The schema of a datasource: chosen tables, or the tables relevant to a question within a budget."""
    schema = await asyncio.to_thread(schemas.schema, args.datasource)
    names = [table.name for table in schema.tables]
    if args.tables is not None:
        by_name = {table.name.lower(): table for table in schema.tables}
        unknown = [name for name in args.tables if name.strip().lower() not in by_name]
        if unknown:
            raise NotFound(
                f"no table {', '.join(unknown)} in {args.datasource}; tables: {', '.join(names)}", field="tables"
            )
        text = "\n".join(render_table(by_name[name.strip().lower()], dialect=schema.dialect) for name in args.tables)
    else:
        text = schema_context(schema, args.question, max_tokens=args.max_tokens)
    return SchemaDescription(datasource=args.datasource, dialect=schema.dialect, tables=names, schema_text=text)


class SqlStatement(BaseModel):
    """One SQL statement and an optional row cap (the body of the REST query route)."""

    sql: str = Field(min_length=1, max_length=100_000, description="One SQL statement in the datasource's dialect.")
    limit: RowLimit | None = Field(default=None, description="Row cap (default: the server's); truncated=true if more.")


class RunSqlArgs(SqlStatement):
    """Arguments of `run_sql`: a statement and the datasource it runs on."""

    datasource: str = DatasourceName


async def run_sql(executor: SqlExecutor, args: RunSqlArgs, progress: Progress | None = None) -> QueryResult:
    """Run one statement: read-only unless the datasource is writable; capped rows; time-limited."""
    return await executor.arun_sql(args.datasource, args.sql, args.limit)


class AskArgs(BaseModel):
    """Arguments of `ask_data`."""

    datasource: str = DatasourceName
    question: str = Field(min_length=1, max_length=100_000, description="A question about the data, in plain language.")
    conv_uid: ConvUid | None = Field(default=None, description="Continue this conversation.")


class DataAnswer(BaseModel):
    """A chat_data answer: its text, the SQL that ran, and its rows (None and empty when no query ran)."""

    conv_uid: str
    answer: str = Field(description="The answer text.")
    sql: str | None = Field(description="The query that produced the rows (None when no query ran).")
    chart_type: str | None = None
    columns: list[str] = Field(default_factory=list, description="Column names in order (a name may repeat).")
    rows: Rows = Field(default_factory=list, description="Each row's values, in the order of `columns`.")
    truncated: bool = Field(default=False, description="True when the query produced more rows than were returned.")
    truncated_reason: Literal["rows", "bytes"] | None = Field(
        default=None, description="Which limit cut the rows: the row cap, or the result byte budget."
    )


async def ask_data(service: ChatService, args: AskArgs, progress: Progress | None = None) -> DataAnswer:
    """Answer a question about a datasource with SQL (chat_data)."""
    question = ChatArgs(
        question=args.question, chat_mode=ChatMode.chat_data, chat_param=args.datasource, conv_uid=args.conv_uid
    )
    return data_answer(await chat(service, question, progress))


def data_answer(result: ChatResult) -> DataAnswer:
    """A chat_data result as its text and its (last) query artifact's SQL and rows."""
    text = result.content.strip()
    queries = [artifact for artifact in result.artifacts if isinstance(artifact, QueryArtifact)]
    if not queries:
        return DataAnswer(conv_uid=result.conv_uid, answer=text, sql=None)
    artifact = queries[-1]
    rows = artifact.result
    return DataAnswer(
        conv_uid=result.conv_uid,
        answer=text,
        sql=rows.sql,
        chart_type=artifact.chart_type,
        columns=rows.columns,
        rows=rows.rows,
        truncated=rows.truncated,
        truncated_reason=rows.truncated_reason,
    )


SQL_OPERATIONS: tuple[AnyOperation, ...] = (
    Operation(
        name="describe_schema",
        title="Describe schema",
        description="Show a datasource's tables as CREATE TABLE text with keys, comments, row counts and sample "
        "values: all of them, the named `tables`, or those relevant to a `question` within `max_tokens`.",
        args_model=SchemaArgs,
        result_model=SchemaDescription,
        uses=lambda runtime: runtime.schemas,
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
        uses=lambda runtime: runtime.sql,
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
        uses=lambda runtime: runtime.chat,
        run=ask_data,
        read_only=False,
        idempotent=False,
        returns_data=True,
    ),
)
