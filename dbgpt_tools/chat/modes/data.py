"""`chat_data`: a question about a datasource -> schema context -> one SQL query -> safety check -> rows -> answer.

One LLM call writes the query (streamed as it is written); on an execution error one repair call sees the
error and, for a missing column, the tables that have it. The model's slot is given back while the SQL runs.
The answer's text says what came back; the rows follow as a typed `QueryArtifact` with the DB-GPT chart type
their shape suits (the REST face renders it as DB-GPT's chart-view markup).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from dbgpt_tools.chat.models import ChatChunk, ChatMessage, ChatRequest, QueryArtifact, Usage
from dbgpt_tools.chat.modes.base import TurnContext
from dbgpt_tools.chat.prompts import DATA_COLUMN_HINT, DATA_REPAIR, DATA_RESULT, DATA_SYSTEM, DIALECT_HINTS, with_system
from dbgpt_tools.errors import DbgptError, Forbidden, InvalidInput
from dbgpt_tools.llm.client import LLM
from dbgpt_tools.sql.errors import QueryTimeout
from dbgpt_tools.sql.examples import ExampleStore
from dbgpt_tools.sql.executor import SqlExecutor
from dbgpt_tools.sql.fences import fenced_blocks, outside_fences, strip_sql
from dbgpt_tools.sql.introspection import SchemaCache
from dbgpt_tools.sql.join_paths import join_hint
from dbgpt_tools.sql.registry import DatasourceRegistry
from dbgpt_tools.sql.results import QueryResult, json_rows, json_value
from dbgpt_tools.sql.safety import SUPPORTED_DIALECTS
from dbgpt_tools.sql.schema_context import schema_context
from dbgpt_tools.sql.schema_models import SchemaInfo
from dbgpt_tools.store.models import DatasourceRow

_BARE = re.compile(r"\b(SELECT|WITH)\b.*", re.DOTALL | re.IGNORECASE)
_SAID_COLUMNS = 4  # a one-row answer with at most this many columns is said in the text
_MISSING_COLUMN = re.compile(
    r"(?:no such column|unknown column)[:\s]+['\"`]?([\w.]+)|column ['\"]?([\w.]+)['\"]? does not exist",
    re.IGNORECASE,
)


def extract_sql(text: str) -> str | None:
    """The query in an LLM's answer: the last fenced block, else the text from the first SELECT/WITH."""
    blocks = fenced_blocks(text)
    if blocks:
        return blocks[-1]
    bare = _BARE.search(text)
    return strip_sql(bare.group(0)) or None if bare else None


def column_hint(schema: SchemaInfo, error: str) -> str:
    """For a 'no such column' error, which tables do have that column (small models often miss a join)."""
    match = _MISSING_COLUMN.search(error)
    if match is None:
        return ""
    column = (match.group(1) or match.group(2)).rsplit(".", 1)[-1].lower()
    tables = [t.name for t in schema.tables if any(c.name.lower() == column for c in t.columns)]
    return DATA_COLUMN_HINT.format(column=column, tables=", ".join(tables)) if tables else ""


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

    def __init__(
        self,
        registry: DatasourceRegistry,
        executor: SqlExecutor,
        schemas: SchemaCache,
        examples: ExampleStore,
        sql_temperature: float = 0.0,
        join_paths: bool = False,
    ) -> None:
        self._registry = registry
        self._executor = executor
        self._schemas = schemas
        self._examples = examples
        self._sql_temperature = sql_temperature
        self._join_paths = join_paths

    async def check(self, request: ChatRequest) -> None:
        if not request.chat_param:
            raise InvalidInput("chat_data needs chat_param: the db_name of a datasource", field="chat_param")
        await asyncio.to_thread(self._registry.resolve, request.chat_param)

    async def system_prompt(self, row: DatasourceRow, question: str) -> tuple[str, SchemaInfo]:
        """The system prompt for a question on a datasource (the whole schema when it fits the budget, so the
        prompt is the same for every question and the model's prompt cache is reused), and the schema."""
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
        row = await asyncio.to_thread(self._registry.resolve, name)
        system, _ = await self.system_prompt(row, "")
        async for _ in llm.astream(with_system(system, [], "-"), max_tokens=1):
            pass

    async def answer(self, turn: TurnContext) -> AsyncIterator[ChatChunk]:
        name = turn.request.chat_param or ""
        row = await asyncio.to_thread(self._registry.resolve, name)
        system, schema = await self.system_prompt(row, turn.question)
        shown = await asyncio.to_thread(self._examples.similar, row.id, turn.question)
        examples = [
            message
            for example in shown
            for message in (
                ChatMessage(role="user", content=example.question),
                ChatMessage(role="assistant", content=f"```sql\n{example.sql}\n```"),
            )
        ]  # after the system prompt, so the schema's prompt cache still serves every question
        hint = join_hint(schema, turn.question) if self._join_paths else None
        question = f"{turn.question}\n{hint}" if hint else turn.question
        messages = with_system(system, [*examples, *turn.history], question)
        usage = Usage()
        for attempt in range(2):
            parts: list[str] = []
            async for chunk in turn.stream_llm(messages, self._sql_temperature):  # the slot is held while it writes
                if chunk.delta:
                    parts.append(chunk.delta)
                    yield ChatChunk(delta=chunk.delta)
                if chunk.usage:
                    usage += chunk.usage
            text = "".join(parts)
            sql = extract_sql(text)
            if sql is None:
                yield ChatChunk(delta="\n\nI could not write a query for that question.")
                break
            try:
                result = await self._executor.arun_sql(name, sql)
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
            cut = result.truncation()
            truncated = f" (more exist: {cut})" if cut else ""
            summary = DATA_RESULT.format(rows=rows_said(result), truncated=truncated)
            yield ChatChunk(delta=f"\n\n{summary}")
            describe = outside_fences(text) or summary
            yield ChatChunk(artifact=QueryArtifact(result=result, chart_type=chart_type(result), describe=describe))
            break
        yield ChatChunk(finish_reason="stop", usage=usage)


TABLE, LINE, PIE, SCATTER = "response_table", "response_line_chart", "response_pie_chart", "response_scatter_chart"
_TIME_LIKE = re.compile(r"^\d{4}(-\d{2}){0,2}([ T]\d{2}:\d{2}(:\d{2})?)?$|^\d{4}-Q[1-4]$|^\d{4}-W\d{2}$")
_PIE_MAX_SLICES = 8


def _numeric(values: list[Any]) -> bool:
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def chart_type(result: QueryResult) -> str:
    """The chart that suits a result: a line for measures over time, a pie for a few shares of a whole, a
    scatter for two measures, else a table."""
    if result.row_count < 2 or len(result.columns) < 2:
        return TABLE
    rows = json_rows(result.rows)  # dates as ISO text, decimals as numbers
    first = [row[0] for row in rows]
    measures = [[row[i] for row in rows] for i in range(1, len(result.columns))]
    if not all(_numeric(values) for values in measures):
        return TABLE
    if all(isinstance(v, str) and _TIME_LIKE.match(v) for v in first):
        return LINE
    if len(measures) != 1:
        return TABLE
    if _numeric(first):
        return SCATTER
    shares = measures[0]
    if result.row_count <= _PIE_MAX_SLICES and all(v >= 0 for v in shares) and len(set(first)) == len(first):
        return PIE
    return TABLE
