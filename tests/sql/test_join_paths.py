"""Join paths: the tables a question names are connected through the foreign keys by their shortest paths
(intermediate tables included), and the hint reaches the model only when the setting is on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from dbgpt_tools.chat.models import ChatMode, ChatRequest
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.join_paths import join_hint, join_path, needed_tables
from dbgpt_tools.sql.schema_models import SchemaInfo
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel.replying(*["```sql\nSELECT COUNT(*) FROM suppliers\n```"] * 4)


@pytest.fixture
def runtime(settings: Settings, model: ScriptedChatModel) -> Iterator[Runtime]:
    rt = Runtime(settings.model_copy(update={"sample_db": True, "sql_join_paths": True}), chat_model=model)
    yield rt
    rt.close()


def sample_schema(runtime: Runtime) -> SchemaInfo:
    return runtime.schemas.schema(runtime.datasources.resolve("sample_sales"))


def test_the_shortest_foreign_key_path_joins_the_named_tables(runtime: Runtime) -> None:
    schema = sample_schema(runtime)
    joins = join_path(schema, ["payments", "customers"])  # no direct key: through orders
    assert [join.condition() for join in joins] == [
        "payments.order_id = orders.order_id",
        "orders.customer_id = customers.customer_id",
    ]
    assert [join.condition() for join in join_path(schema, ["suppliers", "categories"])] == [
        "products.supplier_id = suppliers.supplier_id",
        "products.category_id = categories.category_id",
    ]
    assert join_path(schema, ["customers"]) == []


def test_a_hint_only_for_questions_naming_several_tables(runtime: Runtime) -> None:
    schema = sample_schema(runtime)
    assert needed_tables(schema, "How many customers are there?") == ["customers"]
    assert join_hint(schema, "How many customers are there?") is None
    hint = join_hint(schema, "How many products does each supplier provide?")
    assert hint == "-- Join path: products.supplier_id = suppliers.supplier_id"


async def test_the_hint_follows_the_question_to_the_model(runtime: Runtime, model: ScriptedChatModel) -> None:
    question = "How many products does each supplier provide?"
    ask = ChatRequest(messages=question, chat_mode=ChatMode.chat_data, chat_param="sample_sales")
    result = await runtime.chat.complete(ask)
    assert model.texts(-1)[-1] == f"{question}\n-- Join path: products.supplier_id = suppliers.supplier_id"
    assert runtime.conversations.history(result.conv_uid, 2)[0].content == question  # kept as asked


def test_without_the_setting_the_question_goes_alone(settings: Settings, model: ScriptedChatModel) -> None:
    runtime = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=model)
    try:
        question = "How many products does each supplier provide?"
        ask = ChatRequest(messages=question, chat_mode=ChatMode.chat_data, chat_param="sample_sales")
        asyncio.run(runtime.chat.complete(ask))
        assert model.texts(-1)[-1] == question
    finally:
        runtime.close()
