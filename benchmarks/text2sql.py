"""Execution accuracy and latency of `chat_data` with the embedded model on the text-to-SQL dev set.

One command: `python -m benchmarks.text2sql [--set dev|test|sales|logistics|all] [--limit N] [--ids e01,e02]
[--examples] [--candidates N] [--join-paths] [--model qwen2.5-coder-1.5b]` (`--set`: sales =
benchmarks/text2sql_dev.json, the 42 questions prompts were tuned on; logistics = benchmarks/text2sql_logistics.json,
30 questions on sample_logistics; dev = both; test = benchmarks/text2sql_test.json, the frozen test split, 40
questions over both databases never used for tuning; `--examples`: the bundled question-SQL pairs are registered
first, so the most similar go into each prompt; `--candidates`/`--join-paths`: those settings for the run).

Each question goes, on its database (`db`, sample_sales unless it says), through
`runtime.chat.complete(chat_mode="chat_data")` at temperature 0. The answer text gives two predictions: the first
```sql block the model wrote (no repair) and the chart-view's SQL (after the one repair round chat_data allows).
Both, and the gold SQL, run on the question's database with plain `sqlite3`; a prediction is correct when its rows
equal the gold rows (as multisets, or as lists when the question asks for an order), floats rounded to 2 decimals,
column names ignored, column order free. Latency: wall time of the whole answer and time to its first token, per
question; the first question pays for the system prompt's prompt processing (llama.cpp reuses a common prefix
afterwards), so warm medians leave it out. Results go to a JSON file under /tmp.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from itertools import permutations
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, machine
from dbgpt_tools.chat.models import ChatRequest
from dbgpt_tools.chat.modes.data import extract_sql
from dbgpt_tools.operations.sql import data_answer
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.bundled_examples import register_bundled_examples
from dbgpt_tools.sql.sample_db import SAMPLE_DB_NAME

DEV_SET = ROOT / "benchmarks" / "text2sql_dev.json"
QUESTION_SETS = {
    "sales": DEV_SET,
    "logistics": ROOT / "benchmarks" / "text2sql_logistics.json",
    "test": ROOT / "benchmarks" / "text2sql_test.json",
}
"""The question sets: the dev sets (sample_sales' 42 questions, sample_logistics' 30), used while tuning prompts,
and the frozen test split (40 questions over both databases, written once and never used for tuning)."""
SET_CHOICES = {"sales": ("sales",), "logistics": ("logistics",), "dev": ("sales", "logistics"), "test": ("test",)}
SET_CHOICES["all"] = (*SET_CHOICES["dev"], "test")
MODEL_DIR = Path(os.environ.get("DBGPT_MODEL_DIR", Path.home() / ".cache" / "dbgpt-tools" / "models"))
REPAIR_MARK = "; correcting it."
CHECK_MARK = "\n\nChecking it against"
LEVELS = ("easy", "medium", "hard")
_MAX_PERMUTED_COLUMNS = 6


# --- Comparing results --------------------------------------------------------------------------------------


def _norm(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2) + 0.0  # -0.0 and 0.0 alike
    return value


def _rows(rows: Iterable[Iterable[Any]], order: tuple[int, ...] | None = None) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        values = [_norm(v) for v in row]
        out.append(tuple(values[i] for i in order) if order is not None else tuple(values))
    return out


def same_result(gold: list[tuple[Any, ...]], pred: list[tuple[Any, ...]], ordered: bool) -> bool:
    """Whether the predicted rows equal the gold rows, in some order of the predicted columns."""
    if len(gold) != len(pred):
        return False
    width = len(gold[0]) if gold else 0
    pred_width = len(pred[0]) if pred else 0
    if gold and width != pred_width:
        return False
    target = _rows(gold)
    expected: Any = target if ordered else Counter(target)
    orders: Iterable[tuple[int, ...]] = (
        permutations(range(width)) if width <= _MAX_PERMUTED_COLUMNS else [tuple(range(width))]
    )
    for order in orders:
        got = _rows(pred, order)
        if (got if ordered else Counter(got)) == expected:
            return True
    return False


def covers_result(gold: list[tuple[Any, ...]], pred: list[tuple[Any, ...]], ordered: bool) -> bool:
    """Whether some of the predicted columns give the gold rows (the answer plus extra columns)."""
    if not gold or not pred or len(gold) != len(pred) or len(pred[0]) <= len(gold[0]):
        return False
    target = _rows(gold)
    expected: Any = target if ordered else Counter(target)
    for order in permutations(range(len(pred[0])), len(gold[0])):
        got = _rows(pred, order)
        if (got if ordered else Counter(got)) == expected:
            return True
    return False


def execute(db: Path, sql: str) -> tuple[list[tuple[Any, ...]] | None, str | None]:
    """(rows, None) or (None, error) for `sql` on a read-only connection to the sample database."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall(), None
    except sqlite3.Error as error:
        return None, f"{type(error).__name__}: {error}"
    finally:
        conn.close()


def judge(db: Path, gold: list[tuple[Any, ...]], sql: str | None, ordered: bool) -> dict[str, Any]:
    """Correctness of one predicted query, with a coarse reason when it is wrong."""
    if not sql:
        return {"ok": False, "reason": "no sql"}
    rows, error = execute(db, sql)
    if rows is None:
        return {"ok": False, "reason": "execution error", "error": error}
    if same_result(gold, rows, ordered):
        return {"ok": True, "reason": "", "rows": len(rows)}
    if covers_result(gold, rows, ordered):
        reason = "extra columns"
    elif ordered and same_result(gold, rows, False):
        reason = "wrong order"
    elif len(rows) != len(gold):
        reason = "row count differs"
    else:
        reason = "values differ"
    return {"ok": False, "reason": reason, "rows": len(rows), "sample": [list(r) for r in rows[:3]]}


# --- Reading the answer -------------------------------------------------------------------------------------


def predictions(content: str, final_sql: str | None) -> tuple[str | None, str | None, bool]:
    """(first attempt's SQL, final SQL, whether a repair round ran) from a chat_data answer."""
    text = content.split(CHECK_MARK, 1)[0]  # the other candidates' text follows
    repaired = REPAIR_MARK in text
    first_part = text.split(REPAIR_MARK, 1)[0]
    first = extract_sql(first_part.split("\n\nThe query failed", 1)[0])
    if final_sql is None and repaired:  # the repair failed too: its query is the final prediction
        second_part = text.split(REPAIR_MARK, 1)[1]
        final_sql = extract_sql(second_part.split("\n\nThe query failed again", 1)[0])
    elif final_sql is None:
        final_sql = first
    return first, final_sql, repaired


# --- Running ------------------------------------------------------------------------------------------------


async def ask(runtime: Runtime, question: str, max_tokens: int, database: str) -> dict[str, Any]:
    """One chat_data answer with its wall time and time to first token."""
    started = time.perf_counter()
    first_token: list[float] = []

    async def on_delta(_delta: str) -> None:
        if not first_token:
            first_token.append(time.perf_counter() - started)

    request = ChatRequest(
        messages=question, chat_mode="chat_data", chat_param=database, temperature=0, max_new_tokens=max_tokens
    )
    result = await runtime.chat.complete(request, on_delta)
    wall = time.perf_counter() - started
    answer = data_answer(result)
    return {
        "content": result.content,
        "checked": CHECK_MARK in result.content,
        "chart_sql": answer.sql,
        "wall_s": round(wall, 3),
        "ttft_s": round(first_token[0], 3) if first_token else None,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
    }


def load_questions(ids: str | None, limit: int | None, question_set: str = "sales") -> list[dict[str, Any]]:
    """The chosen set's questions, each with the database it is asked on (`db`, sample_sales by default)."""
    files = [QUESTION_SETS[name] for name in SET_CHOICES[question_set]]
    questions: list[dict[str, Any]] = [
        {"db": SAMPLE_DB_NAME, **question} for path in files for question in json.loads(path.read_text())
    ]
    if ids:
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        known = {q["id"] for q in questions}
        missing = [i for i in wanted if i not in known]
        if missing:
            raise SystemExit(f"unknown ids: {', '.join(missing)}")
        questions = [q for q in questions if q["id"] in wanted]
    return questions[:limit] if limit else questions


def run(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Every question in order on one event loop (the core's HTTP client belongs to the loop that first used
    it); the report is rewritten after each question, so an interrupted run keeps what it measured."""
    questions = load_questions(args.ids, args.limit, args.set)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            local_model=args.model,
            model_dir=MODEL_DIR,
            sql_candidates=args.candidates,
            sql_join_paths=args.join_paths,
        )
        runtime = Runtime(settings)
        try:
            databases = {q["db"]: Path(runtime.datasources.resolve(q["db"]).db_path) for q in questions}
            for name in databases if args.examples else ():
                register_bundled_examples(runtime.examples, name)
            started = time.perf_counter()
            runtime.llm.endpoint()  # load the model before the clock of the first question starts
            report = {
                "machine": machine(),
                "model": args.model,
                "bundled_examples": bool(args.examples),
                "candidates": args.candidates,
                "join_paths": args.join_paths,
                "load_s": round(time.perf_counter() - started, 2),
                "results": [],
            }
            asyncio.run(_run_all(runtime, databases, questions, args.max_tokens, report, out))
        finally:
            runtime.close()
    return report


async def _run_all(
    runtime: Runtime,
    databases: dict[str, Path],
    questions: list[dict[str, Any]],
    max_tokens: int,
    report: dict[str, Any],
    out: Path,
) -> None:
    started = time.perf_counter()  # with read-ahead on, the model reads the stable prompts first, as a server that
    for name in databases:  # has been up a while has: the questions measure answers, not the first read
        await runtime.data_chat.prepare(name)  # (benchmarks.first_question measures that)
    await runtime.data_chat.settled()
    report["read_ahead_s"] = round(time.perf_counter() - started, 2)
    for index, q in enumerate(questions):
        db = databases[q["db"]]
        gold, error = execute(db, q["gold_sql"])
        if gold is None:
            raise SystemExit(f"gold SQL of {q['id']} fails: {error}")
        answer = await ask(runtime, q["question"], max_tokens, q["db"])
        first, final, repaired = predictions(answer.pop("content"), answer.pop("chart_sql"))
        record = {
            "id": q["id"],
            "db": q["db"],
            "level": q["level"],
            "order_matters": q["order_matters"],
            "question": q["question"],
            "gold_sql": q["gold_sql"],
            "gold_rows": len(gold),
            "first_sql": first,
            "final_sql": final,
            "repaired": repaired,
            "first": judge(db, gold, first, q["order_matters"]),
            "final": judge(db, gold, final, q["order_matters"]),
            "warm": index > 0,
            **answer,
        }
        report["results"].append(record)
        out.write_text(json.dumps(report, indent=1, default=str))
        print(_line(record), flush=True)


# --- Reporting ----------------------------------------------------------------------------------------------


def _line(r: dict[str, Any]) -> str:
    mark = {True: "ok", False: "--"}
    why = r["final"]["reason"] or (r["first"]["reason"] and f"first: {r['first']['reason']}")
    return (
        f"{r['id']:4} {r['level']:6} first {mark[r['first']['ok']]} final {mark[r['final']['ok']]}"
        f"{' (repaired)' if r['repaired'] else ''}  wall {r['wall_s']:5.1f} s  ttft {r['ttft_s'] or 0:4.1f} s  {why}"
    )


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _p95(values: list[float]) -> float | None:
    return round(statistics.quantiles(values, n=20, method="inclusive")[-1], 2) if len(values) > 1 else None


def summary(report: dict[str, Any]) -> dict[str, Any]:
    results = report["results"]
    out: dict[str, Any] = {}
    for level in (*LEVELS, "all"):
        rows = [r for r in results if level in ("all", r["level"])]
        if not rows:
            continue
        warm = [r for r in rows if r["warm"]]
        out[level] = {
            "n": len(rows),
            "acc_no_repair": round(sum(r["first"]["ok"] for r in rows) / len(rows), 3),
            "acc_with_repair": round(sum(r["final"]["ok"] for r in rows) / len(rows), 3),
            "repairs": sum(r["repaired"] for r in rows),
            "wall_p50_s": _median([r["wall_s"] for r in rows]),
            "wall_warm_p50_s": _median([r["wall_s"] for r in warm]),
            "wall_warm_p95_s": _p95([r["wall_s"] for r in warm]),
            "checked": sum(r.get("checked", False) for r in rows),
            "ttft_warm_p50_s": _median([r["ttft_s"] for r in warm if r["ttft_s"] is not None]),
            "completion_tokens_p50": _median([r["completion_tokens"] for r in rows]),
        }
    first = results[0] if results else None
    if first:
        out["first_question"] = {"id": first["id"], "wall_s": first["wall_s"], "ttft_s": first["ttft_s"]}
    out["wrong_reasons"] = dict(Counter(r["final"]["reason"] for r in results if not r["final"]["ok"]))
    return out


def print_summary(report: dict[str, Any]) -> None:
    s = report["summary"]
    print(f"\nmachine: {report['machine']}; model {report['model']}, loaded in {report['load_s']} s")
    print(f"examples {report['bundled_examples']}, candidates {report['candidates']}, join paths ", end="")
    print(report["join_paths"])
    header = f"{'level':7} {'n':>3} {'no repair':>9} {'w/ repair':>9} {'repairs':>7} {'checked':>7} {'wall p50':>8} "
    print(header + f"{'warm wall p50':>13} {'warm wall p95':>13} {'warm ttft p50':>13} {'tokens p50':>10}")
    for level in (*LEVELS, "all"):
        if level not in s:
            continue
        x = s[level]
        print(
            f"{level:7} {x['n']:3d} {x['acc_no_repair']:9.1%} {x['acc_with_repair']:9.1%} {x['repairs']:7d} "
            f"{x['checked']:7d} {x['wall_p50_s'] or 0:7.2f}s {x['wall_warm_p50_s'] or 0:12.2f}s "
            f"{x['wall_warm_p95_s'] or 0:12.2f}s {x['ttft_warm_p50_s'] or 0:12.2f}s "
            f"{x['completion_tokens_p50'] or 0:10.0f}"
        )
    if "first_question" in s:
        f = s["first_question"]
        print(f"first question ({f['id']}, cold prompt cache): wall {f['wall_s']} s, ttft {f['ttft_s']} s")
    print(f"wrong (final) by coarse reason: {s['wrong_reasons']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--ids", default=None, help="comma-separated question ids, e.g. e01,m03")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", choices=["qwen2.5-coder-1.5b", "smollm2-135m"])
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--examples", action="store_true", help="teach the sample databases their bundled pairs first")
    parser.add_argument("--set", default="dev", choices=list(SET_CHOICES), help="which questions (dev: both dev sets)")
    parser.add_argument("--candidates", type=int, default=1, help="DBGPT_SQL_CANDIDATES for the run (1: off)")
    parser.add_argument("--join-paths", action="store_true", help="DBGPT_SQL_JOIN_PATHS on for the run")
    parser.add_argument("--out", default=None, help="JSON results file (default: /tmp/text2sql-<time>.json)")
    args = parser.parse_args()
    out = Path(args.out or f"/tmp/text2sql-{time.strftime('%Y%m%d-%H%M%S')}.json")
    report = run(args, out)
    report["summary"] = summary(report)
    out.write_text(json.dumps(report, indent=1, default=str))
    print_summary(report)
    print(f"results: {out}")
    print(
        json.dumps(
            {
                "machine": report["machine"],
                "model": report["model"],
                **{k: v for k, v in report["summary"].items() if k in (*LEVELS, "all")},
            }
        )
    )


if __name__ == "__main__":
    main()
