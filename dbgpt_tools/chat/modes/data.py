"""`chat_data`: a question about a datasource -> schema context -> one SQL query -> safety check -> rows -> answer.

One LLM call writes the query (streamed as it is written); on an execution error one repair call sees the
error and, for a missing column, the tables that have it. The answer ends with DB-GPT's chart-view markup carrying the chart type, SQL and rows.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from langchain_core.messages import AIMessage, HumanMessage

from dbgpt_tools.chat.chart_view import chart_view, render_chart_view, strip_chart_views
from dbgpt_tools.chat.messages import with_system
from dbgpt_tools.chat.models import ChatChunk, ChatMessage, ChatRequest, Usage
from dbgpt_tools.chat.modes.base import TurnContext
from dbgpt_tools.chat.prompts import (
    DATA_COLUMN_HINT,
    DATA_REPAIR,
    DATA_RESULT,
    DATA_SYSTEM,
    DIALECT_HINTS,
)
from dbgpt_tools.errors import DbgptError, Forbidden, InvalidInput
from dbgpt_tools.llm.client import LLM
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.datasources import DatasourceService
from dbgpt_tools.sql.errors import QueryTimeout
from dbgpt_tools.sql.json_values import json_value
from dbgpt_tools.sql.results import QueryResult
from dbgpt_tools.sql.safety import SUPPORTED_DIALECTS, clean_sql
from dbgpt_tools.sql.schema_cache import SchemaCache
from dbgpt_tools.sql.schema_context import schema_context
from dbgpt_tools.sql.schema_models import SchemaInfo

_FENCED = re.compile(r"```(?:sql|SQL)?\s*\n?(.*?)(?:```|$)", re.DOTALL)
_BARE = re.compile(r"\b(SELECT|WITH)\b.*", re.DOTALL | re.IGNORECASE)
_PREVIEW_ROWS = 20
_SAID_COLUMNS = 4  # a one-row answer with at most this many columns is said in the text
_MISSING_COLUMN = re.compile(
    r"(?:no such column|unknown column)[:\s]+['\"`]?([\w.]+)|column ['\"]?([\w.]+)['\"]? does not exist",
    re.IGNORECASE,
)


def extract_sql(text: str) -> str | None:
    """The query in an LLM's answer: the last fenced block, else the text from the first SELECT/WITH."""
    blocks = [block for block in _FENCED.findall(text) if block.strip()]
    if blocks:
        return clean_sql(blocks[-1]) or None
    bare = _BARE.search(text)
    return clean_sql(bare.group(0)) if bare else None


def compact_history(history: list[ChatMessage]) -> list[ChatMessage]:
    """Earlier turns without their result rows (the SQL stays, so follow-ups can build on it)."""
    return [
        m.model_copy(update={"content": strip_chart_views(m.content, "(result shown to the user)")})
        if m.role == "assistant" else m
        for m in history
    ]


def column_hint(schema: SchemaInfo, error: str) -> str:
    """For a 'no such column' error, which tables do have that column (small models often miss a join)."""
    match = _MISSING_COLUMN.search(error)
    if match is None:
        return ""
    column = (match.group(1) or match.group(2)).rsplit(".", 1)[-1].lower()
    tables = [t.name for t in schema.tables if any(c.name.lower() == column for c in t.columns)]
    return DATA_COLUMN_HINT.format(column=column, tables=", ".join(tables)) if tables else ""


def result_table(result: QueryResult) -> str:
    """A plain-text preview of the rows, for answers without chart markup (`enable_vis: false`)."""
    lines = [" | ".join(result.columns), " | ".join("---" for _ in result.columns)]
    lines += [" | ".join(str(v) for v in row) for row in result.rows[:_PREVIEW_ROWS]]
    more = result.row_count - _PREVIEW_ROWS
    if more > 0:
        lines.append(f"... {more} more rows")
    return "\n".join(lines)


def rows_said(result: QueryResult) -> str:
    """How many rows came back, with the values themselves when it is one short row (a count, a total...)."""
    if result.row_count != 1:
        return f"{result.row_count} rows"
    if len(result.columns) > _SAID_COLUMNS:
        return "1 row"
    values = (f"{value:.10g}" if isinstance(value, float) else str(json_value(value)) for value in result.rows[0])
    return "1 row: " + ", ".join(f"{column} = {value}" for column, value in zip(result.columns, values, strict=True))


class DataChat:
    """The `chat_data` mode over the datasource named by `chat_param`."""

    def __init__(self, settings: Settings, datasources: DatasourceService, schemas: SchemaCache) -> None:
        self._settings = settings
        self._datasources = datasources
        self._schemas = schemas

    async def check(self, request: ChatRequest) -> None:
        if not request.chat_param:
            raise InvalidInput("chat_data needs chat_param: the db_name of a datasource", field="chat_param")
        await asyncio.to_thread(self._datasources.resolve, request.chat_param)

    async def system_prompt(self, name: str, question: str) -> tuple[str, SchemaInfo]:
        """The system prompt for a question on a datasource (the whole schema when it fits the budget, so the
        prompt is the same for every question and the model's prompt cache is reused), and the schema."""
        row = await asyncio.to_thread(self._datasources.resolve, name)
        schema = await asyncio.to_thread(self._schemas.schema, row)
        system = DATA_SYSTEM.format(
            dialect=SUPPORTED_DIALECTS[row.db_type],
            db_name=row.db_name,
            hints=DIALECT_HINTS.get(row.db_type, ""),
            schema=schema_context(schema, question),
        )
        return system, schema

    async def warm_up(self, llm: LLM, name: str) -> None:
        """Have the model read a datasource's system prompt once, so the first question is answered from its
        prompt cache (on a CPU the first read of a ~1.5k-token schema takes tens of seconds)."""
        system, _ = await self.system_prompt(name, "")
        async for _ in llm.astream(with_system(system, [], "-"), max_tokens=1):
            pass

    async def answer(self, turn: TurnContext) -> AsyncIterator[ChatChunk]:
        name = turn.request.chat_param or ""
        system, schema = await self.system_prompt(name, turn.question)
        messages = with_system(system, compact_history(turn.history), turn.question)
        usage = Usage()
        text = ""
        for attempt in range(2):
            parts: list[str] = []
            async for chunk in turn.stream_llm(messages):
                if chunk.delta:
                    parts.append(chunk.delta)
                    yield ChatChunk(delta=chunk.delta)
                if chunk.usage:
                    usage = _add(usage, chunk.usage)
            text = "".join(parts)
            sql = extract_sql(text)
            if sql is None:
                yield ChatChunk(delta="\n\nI could not write a query for that question.")
                break
            try:
                result = await asyncio.to_thread(self._datasources.run_sql, name, sql)
            except (Forbidden, QueryTimeout) as refusal:  # a refusal is final: no repair round
                yield ChatChunk(delta=f"\n\nThe query was not run: {refusal.message}")
                break
            except DbgptError as error:
                if attempt == 1:
                    yield ChatChunk(delta=f"\n\nThe query failed again: {error.message}")
                    break
                yield ChatChunk(delta=f"\n\nThe query failed ({error.message}); correcting it.\n\n")
                repair = DATA_REPAIR.format(error=error.message, hint=column_hint(schema, error.message))
                messages = [*messages, AIMessage(content=text), HumanMessage(content=repair)]
                continue
            yield ChatChunk(delta="\n\n" + self._render(turn.request, result, text))
            break
        yield ChatChunk(finish_reason="stop", usage=usage)

    @staticmethod
    def _render(request: ChatRequest, result: QueryResult, thought: str) -> str:
        truncated = f" (more exist: capped at {result.limit_applied})" if result.truncated else ""
        summary = DATA_RESULT.format(rows=rows_said(result), truncated=truncated)
        if not request.enable_vis:
            return f"{summary}\n\n{result_table(result)}"
        describe = _FENCED.sub("", thought).strip() or summary
        return f"{summary}\n\n{render_chart_view(chart_view(result, describe=describe))}"


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
    )

