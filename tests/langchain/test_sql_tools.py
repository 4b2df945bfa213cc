"""Drop-in replacements for LangChain's SQL tools, invoked as an agent invokes them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from dbgpt_tools.langchain import sql_database_tools
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings

DB = "sample_sales"


@pytest.fixture
def sample_runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(settings.model_copy(update={"sample_db": True}))
    yield runtime
    runtime.close()


@pytest.fixture
def tools(sample_runtime: Runtime) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in sql_database_tools(DB, sample_runtime)}


def call(name: str, args: dict[str, str]) -> dict[str, object]:
    return {"name": name, "args": args, "id": f"call-{name}", "type": "tool_call"}


def test_names_and_arguments_match_langchains_sql_tools(tools: dict[str, BaseTool]) -> None:
    assert set(tools) == {"sql_db_list_tables", "sql_db_schema", "sql_db_query"}
    assert set(tools["sql_db_list_tables"].args) == {"tool_input"}
    assert set(tools["sql_db_schema"].args) == {"table_names"}
    assert set(tools["sql_db_query"].args) == {"query"}


def test_an_agents_usual_sequence(tools: dict[str, BaseTool], sample_runtime: Runtime) -> None:
    listed = tools["sql_db_list_tables"].invoke(call("sql_db_list_tables", {"tool_input": ""}))
    assert isinstance(listed, ToolMessage)
    path = Path(sample_runtime.datasources.resolve(DB).db_path)
    catalog = sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
    )
    assert isinstance(listed.content, str)
    assert sorted(name.strip() for name in listed.content.split(",")) == sorted(row[0] for row in catalog)
    schema = tools["sql_db_schema"].invoke(call("sql_db_schema", {"table_names": "customers, orders"}))
    assert "CREATE TABLE customers" in schema.content and "CREATE TABLE orders" in schema.content
    assert "REFERENCES customers" in schema.content
    rows = tools["sql_db_query"].invoke(call("sql_db_query", {"query": "SELECT COUNT(*) FROM customers"}))
    expected = sqlite3.connect(path).execute("SELECT COUNT(*) FROM customers").fetchone()[0]
    assert rows.content == f"[({expected},)]"


@pytest.mark.anyio
async def test_async_invoke(tools: dict[str, BaseTool], sample_runtime: Runtime) -> None:
    sql = "SELECT name FROM regions ORDER BY name LIMIT 2"
    message = await tools["sql_db_query"].ainvoke(call("sql_db_query", {"query": sql}))
    path = Path(sample_runtime.datasources.resolve(DB).db_path)
    assert message.content == str(sqlite3.connect(path).execute(sql).fetchall())


def test_errors_come_back_as_text_for_the_agent_to_fix(tools: dict[str, BaseTool], sample_runtime: Runtime) -> None:
    path = Path(sample_runtime.datasources.resolve(DB).db_path)
    before = sqlite3.connect(path).execute("SELECT COUNT(*) FROM orders").fetchone()[0]
    refused = tools["sql_db_query"].invoke(call("sql_db_query", {"query": "DELETE FROM orders"}))
    wrong = tools["sql_db_query"].invoke(call("sql_db_query", {"query": "SELECT nme FROM regions"}))
    unknown = tools["sql_db_schema"].invoke(call("sql_db_schema", {"table_names": "nope"}))
    assert refused.content.startswith("Error: ") and "read-only" in refused.content
    assert wrong.content.startswith("Error: ") and "nme" in wrong.content
    assert unknown.content.startswith("Error: ") and "customers" in unknown.content  # lists the real tables
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM orders").fetchone()[0] == before


def test_large_results_say_they_were_truncated(tools: dict[str, BaseTool]) -> None:
    message = tools["sql_db_query"].invoke(call("sql_db_query", {"query": "SELECT order_id FROM order_items"}))
    assert message.content.endswith("(truncated at 1000 rows)")
    assert message.content.count("(") == 1000 + 1
