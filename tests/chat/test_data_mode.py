"""chat_data: the SQL the model writes is checked and run; the rows come back as a typed artifact (REST renders it
as DB-GPT's chart-view); errors get one repair."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from dbgpt_tools.chat.models import ChatMode, ChatRequest, QueryArtifact
from dbgpt_tools.chat.modes.data import rows_said
from dbgpt_tools.errors import InvalidInput, NotFound
from dbgpt_tools.operations.sql import AskArgs, ask_data
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.results import QueryResult
from server.app import create_app
from tests.conftest import MODEL_DIR
from tests.markup import chart_views
from tests.scripted import ScriptedChatModel
from tests.sse import check_chunks, parse_sse

pytestmark = pytest.mark.anyio
DB = "sample_sales"


def sql_reply(sql: str, thought: str = "I will query the data.") -> str:
    return f"{thought}\n```sql\n{sql}\n```"


def data_runtime(settings: Settings, *replies: str) -> tuple[Runtime, ScriptedChatModel]:
    model = ScriptedChatModel.replying(*replies)
    return Runtime(settings.model_copy(update={"sample_db": True}), chat_model=model), model


@pytest.fixture
def make(settings: Settings) -> Iterator[Callable[..., tuple[Runtime, ScriptedChatModel]]]:
    made: list[Runtime] = []

    def factory(*replies: str) -> tuple[Runtime, ScriptedChatModel]:
        runtime, model = data_runtime(settings, *replies)
        made.append(runtime)
        return runtime, model

    yield factory
    for runtime in made:
        runtime.close()


def ask(question: str, **extra: object) -> ChatRequest:
    return ChatRequest(messages=question, chat_mode=ChatMode.chat_data, chat_param=DB, **extra)


@contextlib.asynccontextmanager
async def rest_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the REST face of `runtime` (in process)."""
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers={"Authorization": "Bearer test-key"}
        ) as client:
            yield client


def sample_path(runtime: Runtime) -> Path:
    return Path(runtime.datasources.resolve(DB).db_path)


async def test_answer_carries_sql_and_rows_as_a_typed_artifact(make) -> None:
    runtime, model = make(sql_reply("SELECT COUNT(*) AS customers FROM customers"))
    result = await runtime.chat.complete(ask("How many customers are there?"))
    expected = sqlite3.connect(sample_path(runtime)).execute("SELECT COUNT(*) FROM customers").fetchone()[0]
    [artifact] = result.artifacts
    assert artifact.result.sql == "SELECT COUNT(*) AS customers FROM customers"
    assert artifact.result.columns == ["customers"] and [tuple(r) for r in artifact.result.rows] == [(expected,)]
    assert artifact.chart_type == "response_table"
    assert "chart-view" not in result.content  # markup is the REST face's business
    assert f"The query returned 1 row: customers = {expected}." in result.content  # the answer, said in text
    system = model.texts(0)[0]
    assert "CREATE TABLE customers" in system and "sqlite" in system


def test_one_short_row_is_said_with_its_values_longer_results_by_their_count() -> None:
    def result(columns: list[str], rows: list[Sequence[Any]]) -> QueryResult:
        return QueryResult(
            sql="-",
            columns=columns,
            rows=rows,
            row_count=len(rows),
            truncated=False,
            limit_applied=1000,
            elapsed_ms=1.0,
        )

    said = rows_said(result(["day", "total", "avg", "note"], [(date(2024, 5, 1), Decimal("12.50"), 2 / 3, None)]))
    assert said == "1 row: day = 2024-05-01, total = 12.5, avg = 0.6666666667, note = None"
    assert rows_said(result(list("abcde"), [(1, 2, 3, 4, 5)])) == "1 row"
    assert rows_said(result(["n"], [(1,), (2,)])) == "2 rows"
    assert rows_said(result(["n"], [])) == "0 rows"


async def test_time_series_becomes_a_line_chart(make) -> None:
    sql = "SELECT strftime('%Y', order_date) AS year, COUNT(*) AS orders FROM orders GROUP BY year ORDER BY year"
    runtime, _ = make(sql_reply(sql))
    [artifact] = (await runtime.chat.complete(ask("Orders per year?"))).artifacts
    assert artifact.chart_type == "response_line_chart"
    assert [row[0] for row in artifact.result.rows] == ["2019", "2020", "2021", "2022", "2023", "2024"]


async def test_execution_error_gets_one_repair_round_with_the_error(make) -> None:
    runtime, model = make(sql_reply("SELECT nme FROM regions"), sql_reply("SELECT name FROM regions ORDER BY name"))
    result = await runtime.chat.complete(ask("List the regions."))
    assert "correcting it" in result.content
    assert "nme" in model.texts(1)[-1]  # the repair call saw the database's error
    [artifact] = result.artifacts
    assert artifact.result.sql == "SELECT name FROM regions ORDER BY name" and artifact.result.row_count == 5


async def test_repair_names_the_tables_that_have_a_missing_column(make) -> None:
    wrong = "SELECT COUNT(*) FROM order_items oi WHERE oi.status = 'shipped'"
    right = "SELECT COUNT(*) FROM orders WHERE status = 'shipped'"
    runtime, model = make(sql_reply(wrong), sql_reply(right))
    await runtime.chat.complete(ask("How many shipped orders?"))
    assert "The column status is in: orders." in model.texts(1)[-1]


async def test_sqlite_datasources_get_date_function_hints(make) -> None:
    runtime, model = make(sql_reply("SELECT 1"))
    await runtime.chat.complete(ask("Anything?"))
    assert "strftime('%Y', d)" in model.texts(0)[0]


async def test_second_failure_is_reported_not_retried(make) -> None:
    runtime, model = make(sql_reply("SELECT nme FROM regions"), sql_reply("SELECT nam FROM regions"))
    result = await runtime.chat.complete(ask("List the regions."))
    assert "failed again" in result.content and not result.artifacts
    assert len(model.calls) == 2


async def test_refused_statement_is_not_run_nor_repaired(make) -> None:
    runtime, model = make(sql_reply("DELETE FROM orders", "I will delete them."))
    before = sqlite3.connect(sample_path(runtime)).execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    result = await runtime.chat.complete(ask("Delete all orders."))
    after = sqlite3.connect(sample_path(runtime)).execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    assert "was not run" in result.content and "DELETE" in result.content
    assert before == after > 0
    assert len(model.calls) == 1


async def test_no_sql_in_the_answer_says_so(make) -> None:
    runtime, _ = make("I am not sure what you mean.")
    result = await runtime.chat.complete(ask("Hmm?"))
    assert "could not write a query" in result.content


async def test_missing_or_unknown_datasource_is_refused_before_answering(make) -> None:
    runtime, model = make("unused")
    with pytest.raises(InvalidInput, match="chat_param"):
        await runtime.chat.start(ChatRequest(messages="q", chat_mode=ChatMode.chat_data))
    with pytest.raises(NotFound):
        await runtime.chat.start(ChatRequest(messages="q", chat_mode=ChatMode.chat_data, chat_param="nope"))
    assert model.calls == []


async def test_follow_up_sees_the_earlier_sql_but_not_its_rows(make) -> None:
    first_sql = "SELECT status, COUNT(*) AS n FROM orders GROUP BY status"
    runtime, model = make(
        sql_reply(first_sql), sql_reply(first_sql.replace("GROUP", "WHERE order_date LIKE '2020%' GROUP"))
    )
    first = await runtime.chat.complete(ask("Orders by status?"))
    second = await runtime.chat.complete(ask("And only for 2020?", conv_uid=first.conv_uid))
    sent = model.texts(1)
    assert sent[1] == "Orders by status?" and first_sql in sent[2] and "shipped" not in sent[2]  # no rows
    assert sent[-1] == "And only for 2020?"
    assert "2020" in second.artifacts[0].result.sql
    stored = runtime.conversations.history(first.conv_uid, 10)
    assert [len(m.artifacts) for m in stored] == [0, 1, 0, 1]  # the rows are kept beside the text


async def test_rest_enable_vis_false_gives_a_plain_table(make) -> None:
    runtime, _ = make(sql_reply("SELECT name FROM regions ORDER BY name"))
    body = {"messages": "Regions?", "chat_mode": "chat_data", "chat_param": DB, "enable_vis": False}
    async with rest_client(runtime) as client:
        content = (await client.post("/api/v2/chat/completions", json=body)).json()["choices"][0]["message"]["content"]
    assert "chart-view" not in content and "name\n---\n" in content


async def test_ask_data_operation_returns_sql_and_rows(make) -> None:
    runtime, _ = make(sql_reply("SELECT name FROM regions ORDER BY name LIMIT 2"))
    answer = await ask_data(runtime.chat, AskArgs(datasource=DB, question="Two regions?"))
    assert answer.sql == "SELECT name FROM regions ORDER BY name LIMIT 2"
    assert answer.columns == ["name"] and len(answer.rows) == 2
    assert "chart-view" not in answer.answer and "I will query" in answer.answer


async def test_rest_stream_and_non_stream_carry_the_same_markup(make) -> None:
    sql = "SELECT name FROM regions ORDER BY name"
    runtime, _ = make(sql_reply(sql), sql_reply(sql))
    body = {"messages": "Regions?", "chat_mode": "chat_data", "chat_param": DB}
    async with rest_client(runtime) as client:
        whole = (await client.post("/api/v2/chat/completions", json=body)).json()
        streamed = await client.post("/api/v2/chat/completions", json={**body, "stream": True})
    text = check_chunks(parse_sse(streamed.text))
    assert text == whole["choices"][0]["message"]["content"]
    markup = text[text.index("<chart-view") :]
    assert '"' not in markup.split('content="', 1)[1].rsplit('"', 1)[0]  # no raw quote inside the attribute
    [payload] = chart_views(text)
    assert payload["sql"] == sql and len(payload["data"]) == 5 and payload["type"] == "response_table"


@pytest.mark.local_model
async def test_real_qwen_model_answers_a_simple_question(tmp_path: Path) -> None:
    """End to end on the default embedded model: Qwen2.5-Coder-1.5B writes the SQL."""
    settings = Settings(data_dir=tmp_path, model_dir=MODEL_DIR, llm_max_parallel=1, local_ctx=4096)
    runtime = Runtime(settings)
    try:
        result = await runtime.chat.complete(ask("How many customers are there?", temperature=0))
        expected = sqlite3.connect(sample_path(runtime)).execute("SELECT COUNT(*) FROM customers").fetchone()[0]
    finally:
        runtime.close()
    [artifact] = result.artifacts
    assert isinstance(artifact, QueryArtifact)
    assert "customers" in artifact.result.sql.lower()
    assert list(artifact.result.rows[0]) == [expected]


async def test_the_model_slot_is_free_while_the_query_runs(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one slot, a chat_normal answer streams to its end while a chat_data turn's SQL is still running."""
    model = ScriptedChatModel.replying(sql_reply("SELECT COUNT(*) AS n FROM customers"), "Hello from chat_normal")
    one_slot = {"sample_db": True, "llm_max_parallel": 1, "llm_max_queue": 4}
    runtime = Runtime(settings.model_copy(update=one_slot), chat_model=model)
    query_running, finish_query = threading.Event(), threading.Event()
    real_run_sql = runtime.sql.run_sql

    def held_run_sql(*args: Any, **kwargs: Any) -> QueryResult:
        query_running.set()
        assert finish_query.wait(60), "the test never let the query finish"
        return real_run_sql(*args, **kwargs)

    monkeypatch.setattr(runtime.sql, "run_sql", held_run_sql)
    try:
        data_turn = asyncio.create_task(runtime.chat.complete(ask("How many customers?")))
        assert await asyncio.to_thread(query_running.wait, 60)
        normal = await runtime.chat.complete(ChatRequest(messages="Say hello."))  # needs the only slot
        assert normal.content == "Hello from chat_normal" and not data_turn.done()
        assert runtime.llm.gate.admitted == 1  # the data turn still has its place in line
        finish_query.set()
        data = await data_turn
    finally:
        finish_query.set()
        runtime.close()
    assert isinstance(data.artifacts[0], QueryArtifact)
    assert data.artifacts[0].result.rows[0][0] > 0 and runtime.llm.gate.admitted == 0


async def test_rest_streams_the_rows_as_markup_or_a_table_in_both_stream_forms(make) -> None:
    sql = "SELECT name FROM regions ORDER BY name"
    runtime, _ = make(*[sql_reply(sql)] * 3)
    body = {"messages": "Regions?", "chat_mode": "chat_data", "chat_param": DB, "stream": True}
    async with rest_client(runtime) as client:
        deltas = parse_sse((await client.post("/api/v2/chat/completions", json=body)).text)
        whole = parse_sse((await client.post("/api/v2/chat/completions", json={**body, "incremental": False})).text)
        plain = parse_sse((await client.post("/api/v2/chat/completions", json={**body, "enable_vis": False})).text)
    texts = [chunk["choices"][0]["delta"]["content"] for chunk in whole if not chunk["choices"][0]["finish_reason"]]
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))  # the whole text so far
    assert texts[-1] == check_chunks(deltas)  # the last one is the whole answer, markup included
    [view] = chart_views(texts[-1])
    names = [row[0] for row in sqlite3.connect(sample_path(runtime)).execute(sql)]
    assert view["sql"] == sql and [row["name"] for row in view["data"]] == names
    table = check_chunks(plain)
    assert "chart-view" not in table and table.endswith("\n\nname\n---\n" + "\n".join(names))


async def test_sql_is_written_at_the_sql_temperature_unless_the_request_sets_one(make) -> None:
    runtime, model = make(sql_reply("SELECT nope FROM customers"), sql_reply("SELECT 1"), sql_reply("SELECT 2"), "Hi")
    await runtime.chat.complete(ask("How many customers?"))  # a failed query, then its repair
    await runtime.chat.complete(ask("How many customers?", temperature=0.7))
    await runtime.chat.complete(ChatRequest(messages="Hello"))  # chat_normal: the model server's default
    temperatures = [options.get("temperature") for options in model.options]
    assert temperatures == [0.0, 0.0, 0.7, None]
