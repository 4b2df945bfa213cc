"""chat_data's candidate queries: a second query checks the first, more are written when they disagree, the result
most agree on wins, failed candidates get one repair, and every candidate passes the safety gate."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

import pytest

from dbgpt_tools.chat.modes.data import CANDIDATE_TEMPERATURE
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.chat.test_data_mode import ask, data_runtime, sample_path, sql_reply
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio

REGION_TOTALS = "SELECT r.name, COUNT(*) FROM customers c JOIN regions r ON r.region_id = c.region_id GROUP BY r.name"
SAME_TOTALS = (  # the same result written differently, columns swapped
    "SELECT COUNT(*) AS n, r.name FROM regions r JOIN customers c ON c.region_id = r.region_id GROUP BY 2"
)
OTHER = "SELECT r.name, COUNT(*) FROM employees e JOIN regions r ON r.region_id = e.region_id GROUP BY r.name"


@pytest.fixture
def make(settings: Settings) -> Iterator[Callable[..., tuple[Runtime, ScriptedChatModel]]]:
    made: list[Runtime] = []

    def factory(*replies: str, candidates: int = 3) -> tuple[Runtime, ScriptedChatModel]:
        runtime, model = data_runtime(settings.model_copy(update={"sql_candidates": candidates}), *replies)
        made.append(runtime)
        return runtime, model

    yield factory
    for runtime in made:
        runtime.close()


def rows_of(runtime: Runtime, sql: str) -> list[tuple[object, ...]]:
    return sqlite3.connect(sample_path(runtime)).execute(sql).fetchall()


async def test_a_second_query_that_agrees_ends_the_check(make) -> None:
    runtime, model = make(sql_reply(REGION_TOTALS), sql_reply(SAME_TOTALS), sql_reply(OTHER))
    result = await runtime.chat.complete(ask("How many customers per region?"))
    assert len(model.calls) == 2  # the third reply was never asked for
    assert [options.get("temperature") for options in model.options] == [0.0, CANDIDATE_TEMPERATURE]
    [artifact] = result.artifacts
    assert artifact.result.sql == REGION_TOTALS  # the first one's result, as it was streamed
    assert "2 of 2 queries the model wrote agree on the result." in result.content


async def test_when_the_first_two_disagree_the_majority_wins(make) -> None:
    runtime, model = make(sql_reply(OTHER), sql_reply(REGION_TOTALS), sql_reply(SAME_TOTALS))
    result = await runtime.chat.complete(ask("How many customers per region?"))
    assert len(model.calls) == 3
    [artifact] = result.artifacts
    assert artifact.result.sql == REGION_TOTALS
    assert sorted(map(tuple, artifact.result.rows)) == sorted(rows_of(runtime, REGION_TOTALS))
    assert f"2 of 3 queries the model wrote agree on the result of this one:\n```sql\n{REGION_TOTALS}\n```" in (
        result.content
    )
    assert result.content.index(OTHER) < result.content.index("Checking it")  # the first was streamed first


async def test_no_majority_keeps_the_first_query(make) -> None:
    third = "SELECT name, 0 FROM regions"
    runtime, model = make(sql_reply(REGION_TOTALS), sql_reply(OTHER), sql_reply(third))
    result = await runtime.chat.complete(ask("How many customers per region?"))
    assert len(model.calls) == 3
    [artifact] = result.artifacts
    assert artifact.result.sql == REGION_TOTALS and "1 of 3 queries the model wrote agree" in result.content


async def test_a_simple_one_table_query_is_trusted_alone(make) -> None:
    runtime, model = make(sql_reply("SELECT COUNT(*) FROM customers"), sql_reply("SELECT 2"))
    result = await runtime.chat.complete(ask("How many customers?"))
    assert len(model.calls) == 1 and "Checking it" not in result.content
    [artifact] = result.artifacts
    assert [tuple(row) for row in artifact.result.rows] == rows_of(runtime, "SELECT COUNT(*) FROM customers")


async def test_one_candidate_means_no_check(make) -> None:
    runtime, model = make(sql_reply(REGION_TOTALS), sql_reply(OTHER), candidates=1)
    result = await runtime.chat.complete(ask("How many customers per region?"))
    assert len(model.calls) == 1 and "Checking it" not in result.content


async def test_every_candidate_passes_the_safety_gate(make) -> None:
    runtime, model = make(
        sql_reply(OTHER),
        sql_reply("DELETE FROM customers"),  # refused: it neither runs nor votes
        sql_reply("SELECT 1; DROP TABLE customers"),  # refused: two statements, an error the model may repair
        sql_reply("UPDATE customers SET name = 'x'"),  # its repair, refused again
    )
    before = rows_of(runtime, "SELECT COUNT(*) FROM customers")
    result = await runtime.chat.complete(ask("How many customers per region?"))
    assert len(model.calls) == 4  # the refused DELETE was not repaired
    assert "exactly one SQL statement is allowed" in model.texts(3)[-1]
    [artifact] = result.artifacts
    assert artifact.result.sql == OTHER and "1 of 3 queries the model wrote agree" in result.content
    assert rows_of(runtime, "SELECT COUNT(*) FROM customers") == before


async def test_a_failed_candidate_is_repaired_once(make) -> None:
    runtime, model = make(
        sql_reply(OTHER),
        sql_reply("SELECT r.name, COUNT(*) FROM customers c JOIN regions r GROUP BY r.nope"),
        sql_reply(REGION_TOTALS),  # the repair of the second
        sql_reply(SAME_TOTALS),  # the third agrees with the repaired second
    )
    result = await runtime.chat.complete(ask("How many customers per region?"))
    assert len(model.calls) == 4
    repair = model.texts(2)[-1]
    assert "no such column" in repair and "r.nope" in repair  # the repair saw the error
    [artifact] = result.artifacts
    assert artifact.result.sql == REGION_TOTALS and "2 of 3" in result.content


async def test_candidates_rescue_a_first_query_that_failed_twice(make) -> None:
    broken = "SELECT nope FROM customers JOIN regions USING (region_id)"
    runtime, model = make(sql_reply(broken), sql_reply(broken), sql_reply(REGION_TOTALS), sql_reply(SAME_TOTALS))
    result = await runtime.chat.complete(ask("How many customers per region?"))
    assert "The query failed again" in result.content and len(model.calls) == 4
    [artifact] = result.artifacts
    assert artifact.result.sql == REGION_TOTALS and "2 of 3 queries the model wrote agree" in result.content
