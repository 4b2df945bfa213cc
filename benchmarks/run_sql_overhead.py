"""What `run_sql` adds on top of the database driver for a large result (10k rows of mixed types).

One command: `python -m benchmarks.run_sql_overhead [--rounds 50] [--rows 10000] [--profile] [--json]`.

Side by side in one process, alternating every round:
  (a) raw DB-API: a fresh read-only `sqlite3` connection, `execute(...).fetchall()`;
  (b) `runtime.sql.run_sql(name, sql, limit=rows)` on the warm engine.
The same pair runs on DuckDB (raw `duckdb` read-only connection vs `run_sql` on a duckdb datasource), once
with the default garbage collector and once with the start-up heap frozen (`gc.freeze()` after warm-up).
The target is run_sql/raw <= 1.2 at the median; each line says PASS or MISS.

Then each stage of the current `run_sql` is timed on its own (resolve, check_sql, engine config + fingerprint,
execute + `cursor.fetchmany`, `QueryResult.model_construct`) and split into the fixed cost of a call and the
cost that grows with the rows; a one-row query shows the fixed cost as most chat_data calls see it. `run_sql`
returns the driver's values; the conversion to JSON values (`json_rows`) happens when a face serialises the
result, and is timed on its own for reference.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import gc
import io
import json
import pstats
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.harness import machine, percentile
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.datasource_models import DatasourceIn
from dbgpt_tools.sql.fetching import rows_bytes
from dbgpt_tools.sql.results import QueryResult, json_rows
from dbgpt_tools.sql.safety import check_sql

SQL = "SELECT id, qty, price, name, category, day, note FROM facts ORDER BY id"
SMALL_SQL = "SELECT category, COUNT(*) AS n, ROUND(AVG(price), 2) AS avg_price FROM facts WHERE category = 'toys'"
CATEGORIES = ["books", "games", "garden", "kitchen", "music", "sports", "toys", "tools"]
TARGET_RATIO = 1.2
FIXED_STAGES = ("resolve (metadata lookup)", "check_sql (sqlglot)", "engine config + fingerprint")
ROW_STAGES = ("execute + cursor.fetchmany", "rows_bytes (the byte budget)", "QueryResult.model_construct")


def make_rows(n: int) -> list[tuple[Any, ...]]:
    """n rows of int/int/real/text/text/date/nullable text, deterministic."""
    rng = random.Random(42)
    start = date(2022, 1, 1)
    return [
        (
            i,
            rng.randint(1, 50),
            round(rng.uniform(0.5, 999.0), 2),
            f"product {rng.randint(1, 99999):05d}",
            rng.choice(CATEGORIES),
            (start + timedelta(days=rng.randint(0, 1000))).isoformat(),
            None if rng.random() < 0.3 else f"note {i}",
        )
        for i in range(1, n + 1)
    ]


DDL = (
    "CREATE TABLE facts (id INTEGER PRIMARY KEY, qty INTEGER, price REAL, name TEXT, category TEXT, "
    "day DATE, note TEXT)"
)


def build_sqlite(path: Path, rows: list[tuple[Any, ...]]) -> None:
    conn = sqlite3.connect(path)
    conn.execute(DDL)
    conn.executemany("INSERT INTO facts VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()


def build_duckdb(path: Path, rows: list[tuple[Any, ...]]) -> None:
    import duckdb

    conn = duckdb.connect(str(path))
    conn.execute(
        "CREATE TABLE facts (id INTEGER PRIMARY KEY, qty INTEGER, price DOUBLE, name VARCHAR, category VARCHAR, "
        "day DATE, note VARCHAR)"
    )
    csv_path = path.with_suffix(".csv")
    with csv_path.open("w", newline="") as out:
        csv.writer(out).writerows(rows)
    conn.execute(f"COPY facts FROM '{csv_path}' (HEADER false, NULLSTR '')")
    conn.close()


def raw_sqlite(path: Path, sql: str = SQL) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def raw_duckdb(path: Path) -> list[tuple[Any, ...]]:
    import duckdb

    # The same configuration as the datasource engine (duckdb_engine adds a user agent): DuckDB shares one
    # database instance per file and process and refuses a second configuration.
    import duckdb_engine
    import sqlalchemy

    from dbgpt_tools.sql.engine_config import EngineConfig

    agent = f"duckdb_engine/{duckdb_engine.__version__}(sqlalchemy/{sqlalchemy.__version__})"
    config: dict[str, str | bool | int | float | list[str]] = {
        "enable_external_access": False,
        "memory_limit": f"{EngineConfig.memory_mb}MB",
        "temp_directory": "",
        "lock_configuration": True,
        "custom_user_agent": agent,
    }
    conn = duckdb.connect(str(path), read_only=True, config=config)
    try:
        return conn.execute(SQL).fetchall()
    finally:
        conn.close()


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def stats_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 3),
        "p95_ms": round(percentile(values, 95) * 1000, 3),
    }


def side_by_side(fns: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Each function once per round, in alternating order, after one warm-up call each."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for i in range(rounds):
        for name in names if i % 2 == 0 else reversed(names):
            times[name].append(timed(fns[name]))
    return times


def stages(runtime: Runtime, name: str, limit: int) -> dict[str, Callable[[], Any]]:
    """The stages of the current `run_sql`, each callable on its own with its inputs prepared once."""
    row = runtime.datasources.resolve(name)
    checked = check_sql(SQL, row.db_type, writable=not row.read_only)
    _config, engine = runtime.engines.engine_for(row)
    columns, fetched = fetch(engine, checked.sql, limit)
    rows = fetched[:limit]
    return {
        "resolve (metadata lookup)": lambda: runtime.datasources.resolve(name),
        "check_sql (sqlglot)": lambda: check_sql(SQL, row.db_type, writable=not row.read_only),
        "engine config + fingerprint": lambda: runtime.engines.engine_for(row),
        "execute + cursor.fetchmany": lambda: fetch(engine, checked.sql, limit),
        "rows_bytes (the byte budget)": lambda: rows_bytes(rows),
        "json_rows (faces, at JSON output)": lambda: json_rows(rows),
        "QueryResult.model_construct": lambda: QueryResult.model_construct(
            columns=columns,
            rows=rows,
            row_count=len(rows),
            truncated=len(fetched) > limit,
            limit_applied=limit,
            elapsed_ms=1.0,
            sql=checked.sql,
        ),
    }


def fetch(engine: Any, sql: str, limit: int) -> tuple[list[str], list[Any]]:
    """What `run_sql` does between connecting and converting: column names and the driver's own tuples."""
    with engine.connect() as conn:
        result = conn.execute(text(sql), {})
        columns = [str(key) for key in result.keys()]  # noqa: SIM118  # a Result iterates rows
        fetched = result.cursor.fetchmany(limit + 1)
        result.close()
    return columns, fetched


def profile_top(fn: Callable[[], Any], calls: int, top: int = 12) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        fn()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of run_sql")
    parser.add_argument("--no-duckdb", action="store_true")
    parser.add_argument("--json", action="store_true", help="also print the report as one JSON line")
    args = parser.parse_args()
    n = args.rows
    report: dict[str, Any] = {"machine": machine(), "rows": n, "rounds": args.rounds}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        rows = make_rows(n)
        sqlite_path = data_dir / "bench.sqlite"
        build_sqlite(sqlite_path, rows)
        runtime = Runtime(Settings(data_dir=data_dir, sample_db=False, sql_max_row_limit=max(n, 100_000)))
        try:
            runtime.datasources.create(DatasourceIn(db_name="bench", db_type="sqlite", db_path=str(sqlite_path)))
            got = runtime.sql.run_sql("bench", SQL, limit=n)
            assert got.row_count == n and not got.truncated, (got.row_count, got.truncated)
            assert [tuple(r) for r in got.rows] == raw_sqlite(sqlite_path)
            datasources = {"sqlite": "bench"}
            pairs: dict[str, dict[str, Callable[[], Any]]] = {
                "sqlite": {
                    "raw": lambda: raw_sqlite(sqlite_path),
                    "run_sql": lambda: runtime.sql.run_sql("bench", SQL, limit=n),
                }
            }
            if not args.no_duckdb:
                duck_path = data_dir / "bench.duckdb"
                build_duckdb(duck_path, rows)
                runtime.datasources.create(DatasourceIn(db_name="bduck", db_type="duckdb", db_path=str(duck_path)))
                duck = runtime.sql.run_sql("bduck", SQL, limit=n)
                same = duck.model_dump(mode="json")["rows"] == got.model_dump(mode="json")["rows"]
                assert same, "duckdb and sqlite results differ"
                datasources["duckdb"] = "bduck"
                pairs["duckdb"] = {
                    "raw": lambda: raw_duckdb(duck_path),
                    "run_sql": lambda: runtime.sql.run_sql("bduck", SQL, limit=n),
                }
            # Two passes: the default collector, then with the heap frozen after the first pass warmed
            # everything up, since a 10k-row result allocates enough containers to trigger full collections.
            for gc_mode in ("default_gc", "frozen_gc"):
                if gc_mode == "frozen_gc":
                    gc.collect()
                    gc.freeze()
                for engine_name, fns in pairs.items():
                    times = side_by_side(fns, args.rounds)
                    entry: dict[str, Any] = {name: stats_ms(values) for name, values in times.items()}
                    entry["ratio"] = round(statistics.median(times["run_sql"]) / statistics.median(times["raw"]), 2)
                    report.setdefault(gc_mode, {})[engine_name] = entry

            breakdown = {}
            for engine_name, ds_name in datasources.items():
                parts = {
                    "raw DB-API (reference)": pairs[engine_name]["raw"],
                    "run_sql (whole call)": pairs[engine_name]["run_sql"],
                    **stages(runtime, ds_name, n),
                }
                times = side_by_side(parts, args.rounds)
                breakdown[engine_name] = {name: round(statistics.median(v) * 1000, 3) for name, v in times.items()}
            report["stages_p50_ms"] = breakdown
            # The fixed cost per call, on a one-row result (what most chat_data queries return).
            small = side_by_side(
                {
                    "raw": lambda: raw_sqlite(sqlite_path, SMALL_SQL),
                    "run_sql": lambda: runtime.sql.run_sql("bench", SMALL_SQL),
                },
                args.rounds * 5,
            )
            report["sqlite_one_row"] = {name: stats_ms(values) for name, values in small.items()}
            gc.unfreeze()
            if args.profile:
                report["profile"] = profile_top(lambda: runtime.sql.run_sql("bench", SQL, limit=n), 10)
        finally:
            runtime.close()
    print_report(report)
    if args.json:
        print(json.dumps({key: value for key, value in report.items() if key != "profile"}))


def print_report(report: dict[str, Any]) -> None:
    n = report["rows"]
    print(f"machine: {report['machine']}")
    print(
        f"{n} rows x 7 columns (int, int, real, text, text, date, nullable text), {report['rounds']} alternating rounds"
    )
    print(f"{'gc':10} {'engine':8} {'variant':8} {'p50 ms':>8} {'p95 ms':>8}")
    for gc_mode in ("default_gc", "frozen_gc"):
        for engine_name, entry in report[gc_mode].items():
            for variant in ("raw", "run_sql"):
                s = entry[variant]
                print(f"{gc_mode:10} {engine_name:8} {variant:8} {s['p50_ms']:8.2f} {s['p95_ms']:8.2f}")
            verdict = "PASS" if entry["ratio"] <= TARGET_RATIO else "MISS"
            print(
                f"{gc_mode:10} {engine_name:8} ratio run_sql/raw (p50) {entry['ratio']:.2f}: "
                f"{verdict} (target <= {TARGET_RATIO})"
            )
    for engine_name, parts in report["stages_p50_ms"].items():
        print(f"run_sql stages on {engine_name} (p50 ms, each timed alone, frozen gc):")
        for name, ms in parts.items():
            print(f"  {name:32} {ms:8.3f}")
        whole = parts["run_sql (whole call)"]
        fixed = sum(parts[name] for name in FIXED_STAGES)
        per_rows = sum(parts[name] for name in ROW_STAGES)
        print(
            f"  fixed cost per call (resolve + check_sql + fingerprint): {fixed:.3f} ms "
            f"({fixed / whole:.0%} of run_sql)"
        )
        print(
            f"  per-row cost (execute + fetchmany + rows_bytes + model_construct): {per_rows:.3f} ms "
            f"= {per_rows / n * 1000:.2f} us/row ({per_rows / whole:.0%} of run_sql); JSON conversion when a "
            f"face serialises the rows: {parts['json_rows (faces, at JSON output)']:.3f} ms"
        )
    one = report["sqlite_one_row"]
    print(
        f"one-row query on sqlite (frozen gc): raw p50 {one['raw']['p50_ms']:.2f} ms, "
        f"run_sql p50 {one['run_sql']['p50_ms']:.2f} ms (p95 {one['run_sql']['p95_ms']:.2f})"
    )
    if "profile" in report:
        print(report["profile"])


if __name__ == "__main__":
    main()
