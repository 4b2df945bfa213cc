"""chat_data's rows travel typed to every face: repeated column names, a zero-row result's columns, and dates and
decimals survive in the Python faces (core, LangChain artifact, notebook DataFrame), JSON values on the wire
(MCP structured content), and only REST renders DB-GPT's chart-view markup."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import duckdb
import httpx
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from langchain_core.messages import ToolMessage
from mcp import Client

from dbgpt_tools.chat.models import ChatMode, ChatRequest, ChatResult, QueryArtifact
from dbgpt_tools.langchain import get_tools
from dbgpt_tools.operations.sql import DataAnswer
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.results import QueryResult
from server.app import create_app
from server.mcp import build_mcp_server
from tests.jupyter_magic.test_magics import run, sharing
from tests.jupyter_magic.test_magics import shell as shell  # the fixture
from tests.markup import chart_views
from tests.scripted import ScriptedChatModel

JOINED = "SELECT a.id, b.id, a.amount, a.day FROM facts a JOIN facts b ON b.id = a.id + 1 ORDER BY a.id"
EMPTY = "SELECT id, amount FROM facts WHERE id > 99"
COLUMNS = ["id", "id", "amount", "day"]
ROWS = [(1, 2, Decimal("12.50"), date(2024, 3, 1)), (2, 3, Decimal("0.10"), date(2024, 3, 2))]
JSON_ROWS = [[1, 2, 12.5, "2024-03-01"], [2, 3, 0.1, "2024-03-02"]]


def reply(sql: str) -> str:
    return f"```sql\n{sql}\n```"


@pytest.fixture
def facts_runtime(settings: Settings) -> Iterator[tuple[Runtime, ScriptedChatModel]]:
    """A runtime whose scripted model asks the `facts` DuckDB database the joined query, then the empty one."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(settings.data_dir / "facts.duckdb"))
    conn.execute("CREATE TABLE facts (id INTEGER, amount DECIMAL(10, 2), day DATE)")
    conn.execute("INSERT INTO facts VALUES (1, 12.50, '2024-03-01'), (2, 0.10, '2024-03-02'), (3, 7, '2024-03-03')")
    conn.close()
    model = ScriptedChatModel.replying(reply(JOINED), reply(EMPTY))
    runtime = Runtime(settings, chat_model=model)
    runtime.datasources.create({"db_name": "facts", "db_type": "duckdb", "db_path": "facts.duckdb"})
    yield runtime, model
    runtime.close()


@pytest.mark.anyio
async def test_core_answer_keeps_driver_values_and_columns(facts_runtime: tuple[Runtime, ScriptedChatModel]) -> None:
    runtime, _ = facts_runtime
    ask = ChatRequest(messages="Pairs?", chat_mode=ChatMode.chat_data, chat_param="facts")
    joined = query_rows(await runtime.chat.complete(ask))
    assert joined.columns == COLUMNS and [tuple(row) for row in joined.rows] == ROWS
    empty = query_rows(await runtime.chat.complete(ask))
    assert empty.columns == ["id", "amount"] and empty.rows == [] and empty.row_count == 0


def test_langchain_artifact_is_the_typed_answer(facts_runtime: tuple[Runtime, ScriptedChatModel]) -> None:
    runtime, _ = facts_runtime
    tool = next(t for t in get_tools(runtime) if t.name == "ask_data")
    call = {"type": "tool_call", "id": "c1", "name": "ask_data", "args": {"datasource": "facts", "question": "Pairs?"}}
    message = tool.invoke(call)
    assert isinstance(message, ToolMessage) and isinstance(message.artifact, DataAnswer)
    assert message.artifact.columns == COLUMNS and [tuple(row) for row in message.artifact.rows] == ROWS
    assert '"rows":[[1,2,12.5,"2024-03-01"]' in message.content  # the agent reads JSON values
    empty = tool.invoke({**call, "id": "c2"}).artifact
    assert (empty.columns, empty.rows, empty.sql) == (["id", "amount"], [], EMPTY)


@pytest.mark.anyio
async def test_mcp_structured_content_keeps_repeated_columns_and_empty_results(
    facts_runtime: tuple[Runtime, ScriptedChatModel],
) -> None:
    runtime, _ = facts_runtime
    async with Client(build_mcp_server(runtime)) as client:
        joined = (await client.call_tool("ask_data", {"datasource": "facts", "question": "Pairs?"})).structured_content
        empty = (await client.call_tool("ask_data", {"datasource": "facts", "question": "None?"})).structured_content
    assert joined["columns"] == COLUMNS and joined["rows"] == JSON_ROWS and joined["chart_type"] == "response_table"
    assert "chart-view" not in joined["answer"]
    assert (empty["columns"], empty["rows"]) == (["id", "amount"], [])


def test_notebook_dataframe_keeps_types_and_columns(
    shell: InteractiveShell,
    facts_runtime: tuple[Runtime, ScriptedChatModel],
) -> None:
    runtime, _ = facts_runtime
    with sharing(runtime):
        assert run(shell, "%%dbgpt --db facts --out pairs\nPairs?").success
        assert run(shell, "%%dbgpt --db facts --out none\nNone?").success
    pairs: pd.DataFrame = shell.user_ns["pairs"]
    assert list(pairs.columns) == COLUMNS and [tuple(row) for row in pairs.itertuples(index=False)] == ROWS
    assert isinstance(pairs.iloc[0, 2], Decimal) and isinstance(pairs.iloc[0, 3], date)
    none: pd.DataFrame = shell.user_ns["none"]
    assert list(none.columns) == ["id", "amount"] and none.empty


@pytest.mark.anyio
async def test_only_rest_renders_markup_with_json_values(facts_runtime: tuple[Runtime, ScriptedChatModel]) -> None:
    runtime, _ = facts_runtime
    app = create_app(runtime)
    body = {"messages": "Pairs?", "chat_mode": "chat_data", "chat_param": "facts"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers={"Authorization": "Bearer test-key"}
        ) as client:
            answer = (await client.post("/api/v2/chat/completions", json=body)).json()
    [view] = chart_views(answer["choices"][0]["message"]["content"])
    assert view["sql"] == JOINED and view["data"][0]["amount"] == 12.5 and view["data"][0]["day"] == "2024-03-01"


@pytest.mark.anyio
async def test_a_conversation_keeps_its_rows_for_every_face(facts_runtime: tuple[Runtime, ScriptedChatModel]) -> None:
    runtime, _ = facts_runtime
    async with Client(build_mcp_server(runtime)) as client:
        asked = (await client.call_tool("ask_data", {"datasource": "facts", "question": "Pairs?"})).structured_content
        stored = await client.call_tool("get_conversation", {"conv_uid": asked["conv_uid"]})
    question, answer = stored.structured_content["messages"]
    assert (question["role"], question["artifacts"]) == ("user", [])
    [artifact] = answer["artifacts"]
    assert artifact["result"]["columns"] == COLUMNS and artifact["result"]["rows"] == JSON_ROWS
    assert artifact["kind"] == "query" and "chart-view" not in answer["content"]


def query_rows(result: ChatResult) -> QueryResult:
    """The rows of an answer's one query artifact."""
    [artifact] = result.artifacts
    assert isinstance(artifact, QueryArtifact)
    return artifact.result
