"""`chat_data`: a question about a datasource -> schema context -> one SQL query -> safety check -> rows -> answer.

One LLM call writes the query (streamed as it is written); on an execution error one repair call sees the
error and, for a missing column, the tables that have it. The model's slot is given back while the SQL runs.
Unless the query is a simple one-table read, more candidate queries check it (`_Writing.more`). The system prompt
is the same for every question on a datasource where it can be, and is read ahead into the model's cache
(`DataChat.prompt`).
The answer's text says what came back; the rows follow as a typed `QueryArtifact` with the DB-GPT chart type
their shape suits (the REST face renders it as DB-GPT's chart-view markup).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from dbgpt_tools.chat.models import ChatChunk, ChatMessage, ChatRequest, QueryArtifact, Usage
from dbgpt_tools.chat.modes.base import TurnContext
from dbgpt_tools.chat.prompts import (
    DATA_COLUMN_HINT,
    DATA_DETAILS,
    DATA_GUIDE,
    DATA_REPAIR,
    DATA_RESULT,
    DATA_SYSTEM,
    DIALECT_HINTS,
    with_system,
)
from dbgpt_tools.errors import DbgptError, Forbidden, InvalidInput
from dbgpt_tools.llm.read_ahead import ReadAhead
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.agreement import is_simple, majority, result_key
from dbgpt_tools.sql.errors import QueryTimeout
from dbgpt_tools.sql.examples import ExampleStore
from dbgpt_tools.sql.executor import SqlExecutor
from dbgpt_tools.sql.fences import fenced_blocks, outside_fences, strip_sql
from dbgpt_tools.sql.introspection import SchemaCache
from dbgpt_tools.sql.join_paths import join_hint
from dbgpt_tools.sql.registry import DatasourceRegistry
from dbgpt_tools.sql.results import QueryResult, json_rows, json_value
from dbgpt_tools.sql.safety import SUPPORTED_DIALECTS
from dbgpt_tools.sql.schema_context import schema_context, schema_overview, whole_schema
from dbgpt_tools.sql.schema_models import SchemaInfo
from dbgpt_tools.store.models import DatasourceRow

_BARE = re.compile(r"\b(SELECT|WITH)\b.*", re.DOTALL | re.IGNORECASE)
SCHEMA_TOKENS = 1500
"""Budget of the schema in the system prompt (the whole schema, or an overview of every table)."""
DETAIL_TOKENS = 400
"""Budget of the detailed tables a question gets after an overview (read for every question: kept small)."""
COLD_SCHEMA_TOKENS = 300
"""Budget of the ranked schema a question gets while the model has not read the stable prompt yet (a cold model on
two CPU cores reads about 40 tokens a second). Such a cold prompt also leaves out the pattern guide and the examples
(~900 tokens, ~20 s cold) and is only the schema a first question needs."""
CANDIDATE_TEMPERATURE = 0.7
"""Temperature of the candidate queries after the first, so that they differ from it."""
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
        settings: Settings,
        read_ahead: ReadAhead | None = None,
    ) -> None:
        self._registry = registry
        self._executor = executor
        self._schemas = schemas
        self._examples = examples
        self._sql_temperature = settings.sql_temperature
        self._join_paths = settings.sql_join_paths
        self._candidates = settings.sql_candidates
        self._read_ahead = read_ahead
        self._loop: asyncio.AbstractEventLoop | None = None
        self._preparing: set[asyncio.Task[asyncio.Task[None] | None]] = set()
        registry.add_listener(self._on_saved)

    async def check(self, request: ChatRequest) -> None:
        if not request.chat_param:
            raise InvalidInput("chat_data needs chat_param: the db_name of a datasource", field="chat_param")
        await asyncio.to_thread(self._registry.resolve, request.chat_param)

    def _system(self, row: DatasourceRow, schema_text: str, *, guide: str = DATA_GUIDE) -> str:
        return DATA_SYSTEM.format(
            dialect=SUPPORTED_DIALECTS[row.db_type],
            db_name=row.db_name,
            hints=DIALECT_HINTS.get(row.db_type, ""),
            guide=guide,
            schema=schema_text,
        )

    async def prompt(self, row: DatasourceRow, question: str) -> _Prompt:
        """The prompt parts for a question on a datasource.

        The system prompt is the same for every question when it can be (so the model's prompt cache serves
        them all): the whole schema when it fits the budget, else an overview of every table with the tables the
        question most likely needs detailed after it, in the question's message. A schema whose overview does not
        fit either gets the tables ranked for each question. While the model has not read a stable system prompt
        yet (read-ahead on), the question gets a cold prompt (a compact ranked schema, no guide, no examples) that
        a cold model reads in seconds, and the stable prompt is read in the background."""
        schema = await asyncio.to_thread(self._schemas.schema, row)
        prompt = self._stable_prompt(row, schema)
        if prompt is None:
            return _Prompt(self._system(row, schema_context(schema, question, max_tokens=SCHEMA_TOKENS)), schema)
        reading = prompt.read_ahead()
        if self._read_ahead is not None and not self._read_ahead.is_read(reading):
            self._read_ahead.schedule(reading)
            compact = schema_context(schema, question, max_tokens=COLD_SCHEMA_TOKENS)
            return _Prompt(self._system(row, compact, guide=""), schema, cold=True)
        if prompt.overview:
            prompt.details = schema_context(schema, question, max_tokens=DETAIL_TOKENS)
        return prompt

    def _stable_prompt(self, row: DatasourceRow, schema: SchemaInfo) -> _Prompt | None:
        """The system prompt every question on the datasource can share: the whole schema, else an overview of every
        table; None when neither fits the budget."""
        whole = whole_schema(schema, SCHEMA_TOKENS)
        if whole is not None:
            return _Prompt(self._system(row, whole), schema)
        overview = schema_overview(schema, SCHEMA_TOKENS)
        return _Prompt(self._system(row, overview), schema, overview=True) if overview is not None else None

    async def prepare(self, name: str) -> asyncio.Task[None] | None:
        """Have the model read a datasource's stable system prompt in the background (when read-ahead is on and
        the prompt is stable): the task reading it, None when there is nothing to read."""
        self._loop = asyncio.get_running_loop()
        if self._read_ahead is None:
            return None
        row = await asyncio.to_thread(self._registry.resolve, name)
        schema = await asyncio.to_thread(self._schemas.schema, row)
        prompt = self._stable_prompt(row, schema)
        return self._read_ahead.schedule(prompt.read_ahead()) if prompt is not None else None

    def _on_saved(self, row: DatasourceRow) -> None:
        """A datasource was registered or changed (in any thread): prepare its prompt on the loop of the turns."""
        loop = self._loop
        if self._read_ahead is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._prepare_soon, row.db_name)

    def _prepare_soon(self, name: str) -> None:
        task = asyncio.get_running_loop().create_task(self.prepare(name))
        self._preparing.add(task)
        task.add_done_callback(self._preparing.discard)

    async def settled(self) -> None:
        """Wait until the preparations started so far have ended (the prompts are read, or reading failed)."""
        while self._preparing:
            await asyncio.gather(*self._preparing, return_exceptions=True)
        if self._read_ahead is not None:
            await self._read_ahead.settled()

    async def answer(self, turn: TurnContext) -> AsyncIterator[ChatChunk]:
        self._loop = asyncio.get_running_loop()
        name = turn.request.chat_param or ""
        row = await asyncio.to_thread(self._registry.resolve, name)
        prompt = await self.prompt(row, turn.question)
        schema = prompt.schema
        shown = [] if prompt.cold else await asyncio.to_thread(self._examples.similar, row.id, turn.question)
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
        if prompt.details:
            question = DATA_DETAILS.format(details=prompt.details, question=question)
        messages = with_system(prompt.system, [*examples, *turn.history], question)
        writing = _Writing(turn, self._executor, name, schema, messages)
        first = _Candidate()
        async for chunk in writing.first(first, self._sql_temperature):
            yield chunk
        if first.refused is None and self._candidates > 1 and not (first.result and is_simple(first.sql, row.db_type)):
            async for chunk in writing.more(first, self._candidates):
                yield chunk
        chosen = writing.chosen
        if chosen is not None and chosen.result is not None:
            result = chosen.result
            cut = result.truncation()
            truncated = f" (more exist: {cut})" if cut else ""
            summary = DATA_RESULT.format(rows=rows_said(result), truncated=truncated)
            yield ChatChunk(delta=f"\n\n{summary}")
            describe = outside_fences(first.text) or summary
            yield ChatChunk(artifact=QueryArtifact(result=result, chart_type=chart_type(result), describe=describe))
        yield ChatChunk(finish_reason="stop", usage=writing.usage)


@dataclass
class _Prompt:
    """A question's system prompt, the schema behind it, whether the system prompt shows an overview of the tables
    only, and then the detail of the tables the question likely needs (sent with the question); `cold`: the lean
    prompt of a question that came before the model read the stable one (it gets no examples either)."""

    system: str
    schema: SchemaInfo
    overview: bool = False
    details: str | None = None
    cold: bool = False

    def read_ahead(self) -> list[BaseMessage]:
        """What the model reads ahead: the system prompt (the prefix every question's prompt starts with)."""
        return with_system(self.system, [], "-")


@dataclass
class _Candidate:
    """One query the model wrote: its answer text, the SQL in it, and its result or why it has none."""

    text: str = ""
    sql: str = ""
    result: QueryResult | None = None
    error: str | None = None
    refused: str | None = None  # the safety gate or the time limit said no: final, not repaired


class _Writing:
    """The candidate queries of one chat_data turn. The first is streamed as the model writes it, run, and repaired
    once in view. The others are written quietly (sampled, so they differ), run in parallel, and repaired once
    when they fail; the result most candidates agree on wins. Every query goes through the executor, so through
    the safety gate."""

    def __init__(
        self, turn: TurnContext, executor: SqlExecutor, name: str, schema: SchemaInfo, messages: list[BaseMessage]
    ) -> None:
        self._turn = turn
        self._executor = executor
        self._name = name
        self._schema = schema
        self._messages = messages
        self.usage = Usage()
        self.chosen: _Candidate | None = None

    async def _write(self, messages: list[BaseMessage], temperature: float | None) -> AsyncIterator[str]:
        async for chunk in self._turn.stream_llm(messages, temperature):  # the slot is held while it writes
            if chunk.delta:
                yield chunk.delta
            if chunk.usage:
                self.usage += chunk.usage

    async def _run(self, candidate: _Candidate) -> None:
        try:
            candidate.result = await self._executor.arun_sql(self._name, candidate.sql)
        except (Forbidden, QueryTimeout) as refusal:  # a refusal is final: no repair round
            candidate.refused = refusal.message
        except DbgptError as error:
            candidate.error = error.message

    def _repair(self, candidate: _Candidate, messages: list[BaseMessage]) -> list[BaseMessage]:
        error = candidate.error or ""
        repair = DATA_REPAIR.format(error=error, hint=column_hint(self._schema, error))
        return [*messages, AIMessage(content=candidate.text), HumanMessage(content=repair)]

    async def first(self, candidate: _Candidate, temperature: float | None) -> AsyncIterator[ChatChunk]:
        """The first candidate, streamed, with its one repair round in view."""
        messages = self._messages
        for attempt in range(2):
            parts: list[str] = []
            async for delta in self._write(messages, temperature):
                parts.append(delta)
                yield ChatChunk(delta=delta)
            candidate.text = "".join(parts)
            sql = extract_sql(candidate.text)
            if sql is None:
                yield ChatChunk(delta="\n\nI could not write a query for that question.")
                return
            candidate.sql, candidate.error = sql, None
            await self._run(candidate)
            if candidate.refused is not None:
                yield ChatChunk(delta=f"\n\nThe query was not run: {candidate.refused}")
                return
            if candidate.result is not None:
                self.chosen = candidate
                return
            if attempt == 1:
                yield ChatChunk(delta=f"\n\nThe query failed again: {candidate.error}")
                return
            yield ChatChunk(delta=f"\n\nThe query failed ({candidate.error}); correcting it.\n\n")
            messages = self._repair(candidate, messages)

    async def _quiet(self, candidate: _Candidate, messages: list[BaseMessage]) -> None:
        """Write a candidate without showing it (its query is not run yet)."""
        candidate.text = "".join([delta async for delta in self._write(messages, CANDIDATE_TEMPERATURE)])
        candidate.sql, candidate.error = extract_sql(candidate.text) or "", None
        if not candidate.sql:
            candidate.error = "no query"

    async def _run_written(self, candidate: _Candidate) -> None:
        if candidate.sql:
            await self._run(candidate)

    async def _repair_failed(self, candidate: _Candidate) -> None:
        """One repair round for a candidate whose query failed to run (an error, not a refusal)."""
        if candidate.sql and candidate.error is not None:
            await self._quiet(candidate, self._repair(candidate, self._messages))
            await self._run_written(candidate)

    async def more(self, first: _Candidate, count: int) -> AsyncIterator[ChatChunk]:
        """Candidates 2..`count`: none after the second when it agrees with the first; then the majority."""
        yield ChatChunk(delta="\n\nChecking it against other queries the model writes...")
        second = _Candidate()
        await self._quiet(second, self._messages)
        await self._run_written(second)
        await self._repair_failed(second)
        candidates = [first, second]
        if not (first.result and second.result and result_key(first.result) == result_key(second.result)):
            rest = [_Candidate() for _ in range(count - 2)]
            running = []
            for candidate in rest:  # written one after another (one model slot), run while the next is written
                await self._quiet(candidate, self._messages)
                running.append(asyncio.create_task(self._run_written(candidate)))
            await asyncio.gather(*running)
            for candidate in rest:
                await self._repair_failed(candidate)
            candidates += rest
        picked = majority([candidate.result for candidate in candidates])
        if picked is None:
            yield ChatChunk(delta=f"\n\nNone of the {len(candidates)} queries the model wrote ran.")
            return
        index, votes = picked
        self.chosen = candidates[index]
        said = f"\n\n{votes} of {len(candidates)} queries the model wrote agree on the result"
        yield ChatChunk(delta=f"{said}." if index == 0 else f"{said} of this one:\n```sql\n{self.chosen.sql}\n```")


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
