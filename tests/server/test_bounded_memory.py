"""One server process under oversized work: every query that would have taken gigabytes or minutes (DuckDB lists
and aggregates, SQLite blobs, wide results, runaway recursion, deep JSON) is answered or refused within twice the
time limit, and the process's peak memory (VmHWM, read by the test from /proc) stays under 1.5 GB."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.live import server_process

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": "Bearer k1"}
TIMEOUT = 5.0
PEAK_LIMIT_KB = 1536 * 1024
COUNT = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c{limit}) "
OVERSIZED: list[tuple[str, str]] = [
    ("duck", "SELECT list(i) FROM range(100000000) r(i)"),
    ("duck", "SELECT string_agg(repeat('x', 1000), '') FROM range(10000000)"),
    ("duck", "SELECT i, repeat('x', 10000) AS wide FROM range(10000000) r(i)"),
    ("duck", "SELECT * FROM range(1000000000) a(i) ORDER BY i DESC"),
    ("lite", "SELECT replace(hex(zeroblob(250000000)), '0', 'aa')"),
    ("lite", "SELECT printf('%.*c', 1000000000, 'x')"),
    ("lite", COUNT.format(limit=" LIMIT 1000000") + "SELECT group_concat(printf('%0100d', n)) FROM c"),
    ("lite", COUNT.format(limit=" LIMIT 1000000") + "SELECT n, printf('%01000d', n) AS wide FROM c"),
    ("lite", COUNT.format(limit="") + "SELECT count(*) FROM c"),
]


def peak_kb(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def timed(client: httpx.AsyncClient, source: str, sql: str) -> tuple[int, float]:
    started = time.monotonic()
    response = await client.post(f"/api/v2/serve/datasources/{source}/query", json={"sql": sql, "limit": 100_000})
    await response.aread()
    return response.status_code, time.monotonic() - started


async def test_oversized_work_is_bounded_in_time_and_memory(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "lite.db").close()
    duckdb.connect(str(tmp_path / "w.duckdb")).close()
    env = {"DBGPT_DATA_DIR": str(tmp_path), "DBGPT_API_KEYS": "k1", "DBGPT_SAMPLE_DB": "false",
           "DBGPT_WARM_UP": "false", "DBGPT_SQL_TIMEOUT": str(TIMEOUT)}  # fmt: skip
    with server_process(env) as (url, pid):
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=120) as client:
            for name, path, db_type in (("lite", "lite.db", "sqlite"), ("duck", "w.duckdb", "duckdb")):
                created = await client.post("/api/v2/serve/datasources", json={
                    "db_name": name, "db_type": db_type, "db_path": path})  # fmt: skip
                assert created.status_code == 200, created.text
            baseline = peak_kb(pid)

            one_at_a_time = [await timed(client, source, sql) for source, sql in OVERSIZED]
            for (status, seconds), (_, sql) in zip(one_at_a_time, OVERSIZED, strict=True):
                assert status in (200, 400, 504) and seconds < 2 * TIMEOUT, (sql, status, seconds)
            assert {status for status, _ in one_at_a_time} == {200, 400, 504}  # cut, refused, and stopped

            all_at_once = await asyncio.gather(*(timed(client, source, sql) for source, sql in OVERSIZED))
            assert all(status in (200, 400, 504) for status, _ in all_at_once)
            deep = await client.post("/api/v2/chat/completions", content=b"[" * 8_000_000,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
            assert deep.status_code == 400
            assert (await client.get("/health")).status_code == 200
        peak = peak_kb(pid)
    assert peak < PEAK_LIMIT_KB, f"peak RSS {peak // 1024} MB (at start {baseline // 1024} MB)"
