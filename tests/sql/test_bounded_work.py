"""Bounded work: a statement's result is read within a row cap and a byte budget, a value cannot outgrow the
engine's limit, DuckDB works within its memory limit, and errors while rows are read are the caller's 4xx."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.errors import QueryTimeout
from dbgpt_tools.sql.executor import ANSWER_GRACE_S
from dbgpt_tools.sql.fetching import BATCH_ROWS, fetch_bounded, rows_bytes, value_bytes
from tests.scripted import ScriptedChatModel

COUNT_TO = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c LIMIT {n}) "


class Source:
    """A result of `total` rows of `width`-character text, recording how many rows were asked for."""

    def __init__(self, total: int, width: int = 10) -> None:
        self._rows: Iterator[tuple[int, str]] = ((i, "x" * width) for i in range(total))
        self.read = 0

    def fetchmany(self, size: int) -> Sequence[Sequence[Any]]:
        batch = [row for _, row in zip(range(size), self._rows, strict=False)]
        self.read += len(batch)
        return batch


def test_a_short_result_is_read_whole() -> None:
    fetched = fetch_bounded(Source(30).fetchmany, cap=100, budget=10_000)
    assert len(fetched.rows) == 30 and fetched.truncated is None
    exact = fetch_bounded(Source(100).fetchmany, cap=100, budget=10_000)
    assert len(exact.rows) == 100 and exact.truncated is None  # as many as the cap is not cut


def test_the_row_cap_cuts_and_reads_one_row_past_it_at_most() -> None:
    source = Source(10**9)  # never read whole
    fetched = fetch_bounded(source.fetchmany, cap=1000, budget=10**9)
    assert len(fetched.rows) == 1000 and fetched.truncated == "rows"
    assert source.read == 1001  # one more row says there were more


def test_the_byte_budget_cuts_at_the_last_row_that_fits() -> None:
    source = Source(10**9, width=100)
    fetched = fetch_bounded(source.fetchmany, cap=10**6, budget=50_000)
    assert fetched.truncated == "bytes"
    assert rows_bytes(fetched.rows) <= 50_000 < rows_bytes(fetched.rows) + 108  # one more row would not fit
    assert source.read <= len(fetched.rows) + BATCH_ROWS
    alone = fetch_bounded(Source(5, width=1000).fetchmany, cap=10, budget=500)
    assert alone.rows == [] and alone.truncated == "bytes"  # a row bigger than the budget is not returned


def test_value_sizes_follow_what_is_rendered() -> None:
    assert value_bytes("abc") == 3 and value_bytes(b"\x00" * 10) == 10 and value_bytes(7) == 8
    assert value_bytes({"k": "vv"}) == 5 and value_bytes(["a" * 10, None]) == 20
    assert rows_bytes([(1, "ab", None), (2, None, b"xyz")]) == 16 + 2 + 8 + 3
    assert rows_bytes([]) == 0
    day, moment = datetime.date(2024, 1, 31), datetime.datetime(2024, 1, 31, 23, 59, 59, 999999, datetime.UTC)
    bounded = [(day, moment, uuid.uuid4(), None), (day, None, uuid.uuid4(), datetime.timedelta(days=-999999999))]
    assert rows_bytes(bounded) == 8 * 40 and value_bytes(day) == value_bytes(moment) == 40  # each at the bound
    assert all(len(str(value)) <= 40 for value in itertools.chain(*bounded))  # a bound, not a guess


@pytest.fixture
def small(settings: Settings) -> Iterator[Runtime]:
    """A runtime with a 1 s statement limit, a 200 kB result budget and a SQLite file and a DuckDB file."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(settings.data_dir / "w.duckdb")).close()
    limited = settings.model_copy(update={"sql_timeout": 1.0, "sql_max_result_bytes": 200_000})
    runtime = Runtime(limited, chat_model=ScriptedChatModel.replying())
    runtime.datasources.create({"db_name": "lite", "db_type": "sqlite", "db_path": "lite.db", "read_only": False})
    runtime.datasources.create({"db_name": "duck", "db_type": "duckdb", "db_path": "w.duckdb"})
    yield runtime
    runtime.close()


@pytest.mark.parametrize("source", ["lite", "duck"])
def test_a_wide_result_stops_at_the_byte_budget(small: Runtime, source: str) -> None:
    sql = "SELECT n, printf('%0500d', n) AS wide FROM generate_series(1, 100000) g(n)"
    if source == "lite":
        sql = COUNT_TO.format(n=100_000) + "SELECT n, printf('%0500d', n) AS wide FROM c"
    result = small.sql.run_sql(source, sql, limit=100_000)
    assert result.truncated and result.truncated_reason == "bytes"
    assert 300 < result.row_count < 400  # 200 kB of 508-byte rows
    assert [row[0] for row in result.rows] == list(range(1, result.row_count + 1))
    assert result.truncation() == f"cut at {result.row_count} rows by the result size limit"
    capped = small.sql.run_sql(source, sql, limit=10)
    assert capped.truncated_reason == "rows" and capped.row_count == 10
    assert capped.truncation() == "truncated at 10 rows"
    assert small.sql.run_sql(source, "SELECT 1").truncation() is None


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT replace(hex(zeroblob(250000000)), '0', 'aa')",  # 1 GB of text from a 250 MB blob
        "SELECT zeroblob(100000000)",
        COUNT_TO.format(n=1_000_000) + "SELECT group_concat(printf('%0100d', n)) FROM c",
        COUNT_TO.format(n=100_000) + "SELECT json_group_array(printf('%01000d', n)) FROM c",
    ],
)
def test_sqlite_refuses_to_build_a_huge_value(small: Runtime, sql: str) -> None:
    started = time.process_time()
    with pytest.raises(InvalidInput, match="string or blob too big") as refused:
        small.sql.run_sql("lite", sql)
    assert refused.value.status == 400 and refused.value.field == "sql"
    assert time.process_time() - started < 5  # stopped at the value limit, not after building it


def test_sqlite_time_limit_holds_over_slow_functions(small: Runtime) -> None:
    # printf gives NULL past the value limit, but only after counting to its width (a width that changes by row,
    # so SQLite cannot work it out once): many rows of it are stopped by the statement's time limit.
    sql = COUNT_TO.format(n=1000) + "SELECT length(printf('%.*c', 200000000 + n, 'x')) FROM c"
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        small.sql.run_sql("lite", sql)
    assert time.monotonic() - started < 20  # 1000 rows would take minutes


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT list(i) FROM range(100000000) r(i)",
        "SELECT string_agg(repeat('x', 1000), '') FROM range(10000000)",
        "SELECT count(DISTINCT i::VARCHAR || repeat('y', 200)) FROM range(50000000) r(i)",
    ],
)
def test_duckdb_works_within_its_memory_limit(small: Runtime, sql: str) -> None:
    with pytest.raises((InvalidInput, QueryTimeout)) as refused:
        small.sql.run_sql("duck", sql)
    if isinstance(refused.value, InvalidInput):
        assert "Out of Memory" in refused.value.message
    assert small.sql.run_sql("duck", "SELECT 42").rows == [(42,)]  # the engine is fine afterwards


def test_duckdb_limits_cannot_be_lifted_even_on_a_writable_datasource(small: Runtime) -> None:
    small.datasources.create({"db_name": "duckw", "db_type": "duckdb", "db_path": "w2.duckdb", "read_only": False})
    assert small.sql.run_sql("duckw", "SELECT current_setting('memory_limit')").rows == [("122.0 MiB",)]
    with pytest.raises(InvalidInput, match="configuration has been locked"):
        small.sql.run_sql("duckw", "SET memory_limit = '20GB'")
    assert small.sql.run_sql("duckw", "SELECT current_setting('memory_limit')").rows == [("122.0 MiB",)]


@pytest.mark.parametrize(
    ("source", "sql", "words"),
    [
        ("lite", "SELECT abs(-9223372036854775807 - 1)", "integer overflow"),
        ("lite", COUNT_TO.format(n=10) + "SELECT CASE WHEN n = 7 THEN abs(-9223372036854775807 - 1) END FROM c",
         "integer overflow"),
        ("duck", "SELECT error('boom')", "boom"),
        ("duck", "SELECT CASE WHEN i = 3000 THEN error('late') END FROM range(5000) r(i)", "late"),
    ],
)  # fmt: skip
def test_an_error_while_rows_are_read_is_the_callers(small: Runtime, source: str, sql: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as refused:
        small.sql.run_sql(source, sql, limit=10_000)
    assert refused.value.field == "sql"


def test_the_budget_and_value_limit_are_settings(settings: Settings, tmp_path: Path) -> None:
    assert settings.sql_max_result_bytes == 32 * 1024 * 1024 and settings.sql_max_value_bytes == 1024 * 1024
    assert settings.sql_engine_memory_mb == 128


class Stuck:
    """Stands in for `run_sql` stuck inside one long engine call: it returns only when released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []

    def __call__(self, name_or_id: str | int, sql: str, *args: Any) -> Any:
        self.started.append(sql)
        self.release.wait(WAIT)
        return sql


WAIT = 60


@pytest.mark.anyio
async def test_the_answer_comes_within_the_time_limit_even_when_the_engine_cannot_stop(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Runtime(settings.model_copy(update={"sql_timeout": 0.2}), chat_model=ScriptedChatModel.replying())
    stuck = Stuck()
    monkeypatch.setattr(runtime.sql, "run_sql", stuck)
    try:
        started = time.monotonic()
        with pytest.raises(QueryTimeout, match=r"no result within the 0.2 s time limit") as late:
            await runtime.sql.arun_sql("any", "SELECT a_long_call()")
        assert late.value.status == 504 and time.monotonic() - started >= 0.2 + ANSWER_GRACE_S
        assert not stuck.release.is_set()  # answered while the statement was still stuck
    finally:
        stuck.release.set()
        runtime.close()


@pytest.mark.anyio
async def test_statements_run_on_their_own_bounded_threads(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Runtime(
        settings.model_copy(update={"sql_timeout": 0.2, "sql_max_parallel": 2}), chat_model=ScriptedChatModel.replying()
    )
    stuck = Stuck()
    monkeypatch.setattr(runtime.sql, "run_sql", stuck)
    try:
        calls = [runtime.sql.arun_sql("any", f"SELECT {n}") for n in range(3)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(outcome, QueryTimeout) for outcome in outcomes)
        assert sorted(stuck.started) == ["SELECT 0", "SELECT 1"]  # two threads; the third waited its turn...
        assert await asyncio.to_thread(lambda: "the default threads are free") == "the default threads are free"
        stuck.release.set()
        runtime.sql._threads.shutdown(wait=True)  # everything still queued has run once this returns
        assert "SELECT 2" not in stuck.started  # ...and, timed out before it began, was dropped
    finally:
        stuck.release.set()
        runtime.close()
