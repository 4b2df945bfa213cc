"""chat_data's prompts: the same system prompt for every question (the whole schema, or an overview of every table
with the likely tables detailed after it), read into the model's cache in the background while it serves nobody,
yielding to any turn; until it is read, questions get a compact ranked schema."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from dbgpt_tools.chat.models import ChatMode, ChatRequest
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.examples import ExampleIn
from dbgpt_tools.sql.sample_logistics import LOGISTICS_DB_NAME
from dbgpt_tools.sql.schema_context import OVERVIEW_HEAD
from server.app import create_app
from tests.chat.test_data_mode import ask, sql_reply
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio
COUNT_SQL = "SELECT COUNT(*) FROM customers"
COUNT = sql_reply(COUNT_SQL)


class ReadsAhead(ScriptedChatModel):
    """Answers a read-ahead step ('-' after the system prompt) with '-', other requests with its script."""

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        if messages[-1].content != "-":
            return super()._generate(messages, *args, **kwargs)
        self.calls.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="-"))])

    def reads(self) -> list[str]:
        """The system prompts of the read-ahead steps, in order."""
        return [str(call[0].content) for call in self.calls if call[-1].content == "-"]

    def questions(self) -> list[list[BaseMessage]]:
        """The messages of the questions (not the read-ahead steps), in order."""
        return [call for call in self.calls if call[-1].content != "-"]

    def asked(self) -> list[str]:
        """The system prompts of the questions, in order."""
        return [str(call[0].content) for call in self.questions()]


class StallsFirst(ReadsAhead):
    """Its first request (a read-ahead step) writes one token, then stalls until cancelled."""

    stalled: threading.Event = Field(default_factory=threading.Event)  # set on the read-ahead's own loop
    cancelled: threading.Event = Field(default_factory=threading.Event)

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        if self.stalled.is_set():
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                yield chunk
            return
        self.calls.append(list(messages))
        yield ChatGenerationChunk(message=AIMessageChunk(content="-"))
        self.stalled.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


@pytest.fixture
def make(settings: Settings) -> Iterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def factory(model: ScriptedChatModel, read_ahead: bool = True) -> Runtime:
        update = {"sample_db": True, "sql_read_ahead": read_ahead}
        runtime = Runtime(settings.model_copy(update=update), chat_model=model)
        made.append(runtime)
        return runtime

    yield factory
    for runtime in made:
        runtime.close()


def system_of(model: ScriptedChatModel, call: int) -> str:
    return model.texts(call)[0]


async def test_the_read_ahead_yields_to_a_question_then_goes_on(make) -> None:
    model = StallsFirst(messages=iter([COUNT, COUNT]))
    runtime = make(model)
    await runtime.examples.add("sample_sales", ExampleIn(question="How many customers?", sql=COUNT_SQL))
    reading = await runtime.data_chat.prepare("sample_sales")
    assert reading is not None
    assert await asyncio.to_thread(model.stalled.wait, 60)  # the model is reading the stable prompt's first step
    cold = await runtime.chat.complete(ask("How many customers are there?"))
    assert await asyncio.to_thread(model.cancelled.wait, 60)  # the question took the model back
    assert cold.artifacts  # and was answered, from a compact ranked schema
    await reading  # then the reading went on when the model was idle again
    steps = model.reads()
    stable, compact = steps[-1], model.asked()[0]
    assert "CREATE TABLE customers" in compact and len(compact) < len(stable)
    assert "Patterns:" in stable and "Patterns:" not in compact  # cold: no pattern guide,
    assert len(model.questions()[0]) == 2  # and no examples: the system prompt and the question
    assert steps[0] == steps[1] and len(steps) > 3  # the cancelled step again, then longer prefixes
    assert all(stable.startswith(step) for step in steps)
    await runtime.chat.complete(ask("How many customers are there?"))
    assert model.asked()[1] == stable  # read: every question now starts with the cached prompt
    assert len(model.questions()[1]) == 4  # and gets its examples


async def test_a_registered_datasource_is_read_ahead(make, tmp_path: Path) -> None:
    model = ReadsAhead.replying()
    runtime = make(model)
    await runtime.data_chat.prepare("sample_sales")  # the loop of the turns is known from here on
    await runtime.data_chat.settled()
    read = len(model.reads())
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE gadgets (gadget_id INTEGER PRIMARY KEY, label TEXT, price REAL)")
    runtime.settings.db_roots.append(tmp_path)
    shop = {"db_type": "sqlite", "db_name": "shop", "db_path": str(db)}
    await asyncio.to_thread(runtime.datasources.create, shop)
    await runtime.data_chat.settled()
    shop_steps = model.reads()[read:]
    assert shop_steps and "CREATE TABLE gadgets" in shop_steps[-1]
    assert all(shop_steps[-1].startswith(step) for step in shop_steps)


async def test_warm_up_loads_the_model_and_reads_the_bundled_prompts(make) -> None:
    model = ReadsAhead.replying(COUNT)
    runtime = make(model)
    app = create_app(runtime, warm_up=True)
    async with app.router.lifespan_context(app):  # the model is loaded before the server listens
        await runtime.data_chat.settled()  # the prompts are read in the background
    complete = [step for step in model.reads() if "The database" in step and step.rstrip().endswith(");")]
    assert any("CREATE TABLE customers" in step for step in complete)
    assert any(OVERVIEW_HEAD.strip() in step for step in model.reads())
    await runtime.chat.complete(ask("How many customers are there?"))
    assert model.asked()[0] in model.reads()


async def test_a_failing_read_ahead_is_logged_and_the_question_still_answered(
    make, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(ScriptedChatModel):
        async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
            raise RuntimeError("model down")
            yield  # pragma: no cover

    runtime = make(Broken.replying())
    reading = await runtime.data_chat.prepare("sample_sales")
    assert reading is not None
    await reading
    assert "reading a prompt ahead failed" in caplog.text


async def test_a_large_schema_gets_a_stable_overview_and_the_likely_tables_in_detail(make) -> None:
    model = ScriptedChatModel.replying(*[sql_reply('SELECT COUNT(*) FROM "Driver"')] * 2)
    runtime = make(model, read_ahead=False)
    request = {"chat_mode": ChatMode.chat_data, "chat_param": LOGISTICS_DB_NAME}
    await runtime.chat.complete(ChatRequest(messages="How many drivers are agency staff?", **request))
    await runtime.chat.complete(ChatRequest(messages="Which depots are in Leeds?", **request))
    first, second = system_of(model, 0), system_of(model, 1)
    assert first == second and OVERVIEW_HEAD.strip() in first  # the same prefix for every question
    tables = [row[0] for row in sqlite3.connect(runtime.datasources.resolve(LOGISTICS_DB_NAME).db_path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
    )]  # fmt: skip
    assert len(tables) >= 12 and all(f'"{table}"(' in first or f"{table}(" in first for table in tables)
    question = model.texts(0)[-1]
    assert "in detail" in question and 'CREATE TABLE "Driver"' in question
    assert question.endswith("How many drivers are agency staff?")
