"""How long the first chat_data question takes: on a freshly registered ~30-table database, and on the sample
database right after `dbgpt-tools serve` starts listening. Real Qwen2.5-Coder-1.5B on the machine's CPUs.

One command: `python -m benchmarks.first_question [--rounds 5] [--serve-rounds 3]`.

Fresh database: the two bundled databases' 25 tables plus 5 more, copied into one SQLite file (30 tables, a
schema of ~4,500 tokens in full). Each round registers it under a new name (so no prompt of it is in the model's
cache: the name opens the prompt) and asks one question at once, then a second after the prompt was read ahead.
Side by side in one run, alternating: read-ahead on (the default for the local model) and off (every question
reads its ranked 1,500-token schema). The model itself is loaded before the clock starts.

After serve: `dbgpt-tools serve` on a fresh data dir (model already assembled), the question sent the moment
the port accepts connections; the time until the whole answer is back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.harness import free_port, machine, serving
from benchmarks.text2sql import MODEL_DIR
from dbgpt_tools.chat.models import ChatRequest
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.sample_db import ensure_sample_db
from dbgpt_tools.sql.sample_logistics import ensure_logistics_db

ISSUE_SERVE_S = 57.0
"""The first question after `serve.sh` when issue 15 was filed: it waited for the warm-up."""
QUESTION = "How many customers are there?"
SECOND = "How many shipments were delivered late?"
EXTRA_TABLES = """
CREATE TABLE warehouses (warehouse_id INTEGER PRIMARY KEY, name TEXT, city TEXT, capacity_pallets INTEGER);
CREATE TABLE stock_levels (warehouse_id INTEGER REFERENCES warehouses(warehouse_id),
  product_id INTEGER REFERENCES products(product_id), on_hand INTEGER, counted_on TEXT,
  PRIMARY KEY (warehouse_id, product_id));
CREATE TABLE promotions (promotion_id INTEGER PRIMARY KEY, name TEXT, starts_on TEXT, ends_on TEXT,
  discount_pct REAL);
CREATE TABLE returns (return_id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(order_id),
  reason TEXT, returned_on TEXT, refund REAL);
CREATE TABLE support_tickets (ticket_id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(customer_id),
  opened_on TEXT, closed_on TEXT, priority TEXT, subject TEXT);
"""


def build_database(path: Path) -> int:
    """The 30-table database: both bundled databases' tables, and five more with a few rows each."""
    work = path.parent
    sources = [ensure_sample_db(work / "sales.sqlite"), ensure_logistics_db(work / "logistics.sqlite")]
    with sqlite3.connect(path) as conn:
        for index, source in enumerate(sources):
            conn.execute(f"ATTACH DATABASE '{source}' AS src{index}")
            tables = conn.execute(f"SELECT name, sql FROM src{index}.sqlite_master WHERE type = 'table'").fetchall()
            for name, ddl in tables:
                conn.execute(ddl)
                conn.execute(f'INSERT INTO main."{name}" SELECT * FROM src{index}."{name}"')
            conn.commit()
            conn.execute(f"DETACH DATABASE src{index}")
        conn.executescript(EXTRA_TABLES)
        conn.executemany(
            "INSERT INTO warehouses VALUES (?, ?, ?, ?)", [(1, "North", "Leeds", 900), (2, "South", "Bristol", 700)]
        )
        conn.executemany(
            "INSERT INTO promotions VALUES (?, ?, ?, ?, ?)", [(1, "Spring", "2024-03-01", "2024-03-31", 10.0)]
        )
        return int(conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])


async def timed(runtime: Runtime, name: str, question: str) -> dict[str, Any]:
    """One chat_data answer: wall time, time to first token, prompt tokens, and whether it returned rows."""
    started = time.perf_counter()
    first: list[float] = []

    async def on_delta(_delta: str) -> None:
        if not first:
            first.append(time.perf_counter() - started)

    request = ChatRequest(messages=question, chat_mode="chat_data", chat_param=name, temperature=0)
    result = await runtime.chat.complete(request, on_delta)
    return {
        "wall_s": round(time.perf_counter() - started, 2),
        "ttft_s": round(first[0], 2) if first else None,
        "prompt_tokens": result.usage.prompt_tokens,
        "rows": bool(result.artifacts),
    }


async def fresh_rounds(runtimes: dict[str, Runtime], db: Path, rounds: int) -> list[dict[str, Any]]:
    records = []
    for round_ in range(rounds):
        for label, runtime in runtimes.items():
            name = f"fresh_{label}_{round_}"
            await asyncio.to_thread(
                runtime.datasources.create, {"db_type": "sqlite", "db_name": name, "db_path": str(db)}
            )
            first = await timed(runtime, name, QUESTION)  # at once: a read-ahead, if any, has just been scheduled
            await runtime.data_chat.settled()
            second = await timed(runtime, name, SECOND)
            record = {"config": label, "round": round_, "first": first, "second": second}
            records.append(record)
            print(json.dumps(record), flush=True)
    return records


def fresh_database(rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "combined.sqlite"
        tables = build_database(db)
        runtimes = {}
        for label, read_ahead in (("read_ahead", True), ("no_read_ahead", False)):
            settings = Settings(
                data_dir=work / label, model_dir=MODEL_DIR, db_roots=[work], sample_db=False, sample_space=False,
                sql_read_ahead=read_ahead,
            )  # fmt: skip
            runtimes[label] = Runtime(settings)
            runtimes[label].llm.endpoint()  # the model is loaded before the clock starts

        async def run() -> list[dict[str, Any]]:
            return await fresh_rounds(runtimes, db, rounds)

        try:
            records = asyncio.run(run())
        finally:
            for runtime in runtimes.values():
                runtime.close()
    out: dict[str, Any] = {"tables": tables, "records": records}
    for label in runtimes:
        mine = [r for r in records if r["config"] == label]
        out[label] = {
            key: {
                "wall_p50_s": statistics.median(r[key]["wall_s"] for r in mine),
                "ttft_p50_s": statistics.median(r[key]["ttft_s"] or 0 for r in mine),
                "prompt_tokens_p50": statistics.median(r[key]["prompt_tokens"] for r in mine),
            }
            for key in ("first", "second")
        }
    return out


def after_serve(rounds: int) -> dict[str, Any]:
    """The first sample-database question the moment `dbgpt-tools serve` listens, on a fresh data dir."""
    walls = []
    body = json.dumps(
        {"model": "qwen2.5-coder-1.5b", "messages": QUESTION, "chat_mode": "chat_data", "chat_param": "sample_sales",
         "stream": False, "temperature": 0}
    ).encode()  # fmt: skip
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            env = {
                "DBGPT_DATA_DIR": tmp,
                "DBGPT_MODEL_DIR": str(MODEL_DIR),
                "DBGPT_PORT": str(port),
                "DBGPT_MODEL_API_PORT": "0",
            }
            with serving(["-m", "server", "serve", "--port", str(port)], port, env):
                started = time.perf_counter()
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/v2/chat/completions", body, {"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=600) as response:
                    answer = json.loads(response.read())
                wall = time.perf_counter() - started
        walls.append(round(wall, 2))
        text = answer["choices"][0]["message"]["content"]
        print(json.dumps({"after_serve_wall_s": round(wall, 2), "answer_tail": text[-80:]}), flush=True)
    return {"walls_s": walls, "wall_p50_s": statistics.median(walls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="fresh-database rounds per configuration")
    parser.add_argument("--serve-rounds", type=int, default=3, help="server starts")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "machine": machine(),
        "fresh": fresh_database(args.rounds),
        "serve": after_serve(args.serve_rounds),
    }
    out = Path(f"/tmp/first-question-{time.strftime('%Y%m%d-%H%M%S')}.json")
    out.write_text(json.dumps(report, indent=1))
    print(f"\nmachine: {report['machine']}; {report['fresh']['tables']} tables")
    for label in ("read_ahead", "no_read_ahead"):
        for key in ("first", "second"):
            x = report["fresh"][label][key]
            print(
                f"{label:14} {key:6} question: wall p50 {x['wall_p50_s']:6.2f} s, ttft p50 {x['ttft_p50_s']:6.2f} s, "
                f"prompt tokens p50 {x['prompt_tokens_p50']:.0f}"
            )
    on, off = (report["fresh"][label]["first"]["wall_p50_s"] for label in ("read_ahead", "no_read_ahead"))
    print(f"first question, read-ahead on / off: {on / off:.2f}x (issue's baseline: 94 s; target <= 10 s)")
    serve_p50 = report["serve"]["wall_p50_s"]
    print(f"first question after serve listens: p50 {serve_p50} s {report['serve']['walls_s']}", end="")
    print(f" = {serve_p50 / ISSUE_SERVE_S:.2f}x the issue's {ISSUE_SERVE_S:.0f} s (target <= 15 s)")
    print(f"results: {out}")
    sys.stdout.flush()
    os._exit(0)  # the local model servers stop with the process


if __name__ == "__main__":
    main()
