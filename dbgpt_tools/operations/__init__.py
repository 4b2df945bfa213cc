"""The one list of operations that the MCP and LangChain faces are generated from."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, Field, ValidationError

from dbgpt_tools.chat.chart_view import parse_chart_views, strip_chart_views
from dbgpt_tools.chat.models import ChatMessage, ChatMode, ChatRequest, ChatResult
from dbgpt_tools.errors import InvalidInput, NotFound
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.sql.datasources import ConnectionStatus, Datasource, DatasourceIn
from dbgpt_tools.sql.results import QueryResult
from dbgpt_tools.sql.schema_context import schema_context
from dbgpt_tools.sql.schema_text import render_table


class Progress(Protocol):
    """Progress of a long operation: work done so far, total if known, and a message."""

    async def __call__(self, done: float, total: float | None, message: str) -> None: ...


@dataclass(frozen=True)
class Operation:
    """One operation: its name, description, input and output models, and the core function it runs.

    `returns_data`: the result carries rows or documents a program should keep whole (LangChain's tool
    artifact), apart from the text an agent reads.
    """

    name: str
    title: str
    description: str
    args_model: type[BaseModel]
    result_model: type[BaseModel]
    run: Callable[[Runtime, Any, Progress | None], Awaitable[BaseModel]]
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    returns_data: bool = False


def invalid_input(error: ValidationError) -> InvalidInput:
    """Pydantic's validation errors as one `InvalidInput` naming the first bad field."""
    problems = [(".".join(str(part) for part in e["loc"]), e["msg"]) for e in error.errors()]
    message = "; ".join(f"{field}: {msg}" if field else msg for field, msg in problems)
    return InvalidInput(message, field=problems[0][0] or None)  # a ValidationError holds at least one error


class ChatArgs(BaseModel):
    """Arguments of the `chat` operation."""

    question: str = Field(min_length=1, description="The user's question or message.")
    chat_mode: ChatMode = Field(default=ChatMode.chat_normal, description="Which chat mode answers.")
    chat_param: str | None = Field(default=None, description="The mode's target (datasource, space, app, flow).")
    conv_uid: str | None = Field(
        default=None, max_length=128, description="Continue this conversation (id returned by an earlier call)."
    )
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature, 0..2.")
    max_new_tokens: int | None = Field(default=None, ge=1, description="Cap on generated tokens.")


async def chat(runtime: Runtime, args: ChatArgs, progress: Progress | None = None) -> ChatResult:
    """Answer one chat turn; progress reports each piece of text as it is generated."""
    request = ChatRequest(messages=args.question, **args.model_dump(exclude={"question"}))
    pieces = 0

    async def on_delta(delta: str) -> None:
        nonlocal pieces
        pieces += 1
        if progress is not None:
            await progress(pieces, None, delta)

    return await runtime.chat.complete(request, on_delta)


class ConversationArgs(BaseModel):
    """Arguments of the `get_conversation` operation."""

    conv_uid: str = Field(min_length=1, max_length=128, description="The conversation id.")


class Conversation(BaseModel):
    """A conversation's stored messages, oldest first."""

    conv_uid: str
    messages: list[ChatMessage]


async def get_conversation(runtime: Runtime, args: ConversationArgs, progress: Progress | None = None) -> Conversation:
    """The stored messages of a conversation."""
    messages = await asyncio.to_thread(runtime.conversations.history, args.conv_uid, 10_000)
    if not messages:
        raise NotFound(f"no conversation with conv_uid {args.conv_uid!r}")
    return Conversation(conv_uid=args.conv_uid, messages=messages)



DatasourceName = Field(min_length=1, max_length=256, description="The datasource's db_name (or its numeric id).")


class NoArgs(BaseModel):
    """No arguments."""


class DatasourceList(BaseModel):
    """The registered datasources (passwords masked)."""

    datasources: list[Datasource]


async def list_datasources(runtime: Runtime, args: NoArgs, progress: Progress | None = None) -> DatasourceList:
    """Every registered datasource."""
    return DatasourceList(datasources=await asyncio.to_thread(runtime.datasources.list))


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


class DatasourceRef(BaseModel):
    """A datasource by name or id."""

    datasource: str = DatasourceName


async def check_connection(runtime: Runtime, args: DatasourceRef, progress: Progress | None = None) -> ConnectionStatus:
    """Whether the datasource is reachable, and its server version."""
    return await asyncio.to_thread(runtime.datasources.test_connection, args.datasource)


async def create_datasource(runtime: Runtime, args: DatasourceIn, progress: Progress | None = None) -> Datasource:
    """Register a datasource (read-only unless read_only=false)."""
    return await asyncio.to_thread(runtime.datasources.create, args)


async def delete_datasource(runtime: Runtime, args: DatasourceRef, progress: Progress | None = None) -> Datasource:
    """Remove a datasource registration (the database itself is untouched)."""
    row = await asyncio.to_thread(runtime.datasources.resolve, args.datasource)
    return await asyncio.to_thread(runtime.datasources.delete, row.id)


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="chat",
        title="Chat",
        description=(
            "Ask DB-GPT a question in a chat mode (chat_normal: plain LLM answer). Returns the answer and a "
            "conv_uid; pass the conv_uid again to continue the same conversation."
        ),
        args_model=ChatArgs,
        result_model=ChatResult,
        run=chat,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="get_conversation",
        title="Get conversation",
        description="Return the stored messages of a conversation, oldest first.",
        args_model=ConversationArgs,
        result_model=Conversation,
        run=get_conversation,
    ),
    Operation(
        name="list_datasources",
        title="List datasources",
        description="List the registered databases (db_name, db_type, comment, read_only). Use a db_name as "
        "`datasource` in the other data tools.",
        args_model=NoArgs,
        result_model=DatasourceList,
        run=list_datasources,
    ),
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
    Operation(
        name="test_connection",
        title="Test connection",
        description="Check that a datasource is reachable and report its server version.",
        args_model=DatasourceRef,
        result_model=ConnectionStatus,
        run=check_connection,
    ),
    Operation(
        name="create_datasource",
        title="Create datasource",
        description="Register a database: db_name, db_type (sqlite, duckdb, postgresql, mysql), db_path for "
        "files or db_host/db_port/db_user/db_pwd for servers. Read-only unless read_only is false.",
        args_model=DatasourceIn,
        result_model=Datasource,
        run=create_datasource,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="delete_datasource",
        title="Delete datasource",
        description="Remove a datasource registration (the database itself is not touched).",
        args_model=DatasourceRef,
        result_model=Datasource,
        run=delete_datasource,
        read_only=False,
        destructive=True,
    ),
)
