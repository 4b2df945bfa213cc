"""The bundled sample database and the text-to-SQL dev set written against it."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dbgpt_tools.sql import sample_db
from dbgpt_tools.sql.sample_db import (
    SAMPLE_DB_COMMENT,
    SAMPLE_DB_NAME,
    VERSION,
    ensure_sample_db,
)
from tests.sql.conftest import table_hashes

DEV_SET = Path(__file__).resolve().parents[2] / "benchmarks" / "text2sql_dev.json"
TABLES = (
    "regions",
    "categories",
    "suppliers",
    "products",
    "employees",
    "customers",
    "orders",
    "order_items",
    "payments",
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_sample_db(tmp_path_factory.mktemp("sample") / f"{SAMPLE_DB_NAME}.db")


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _counts(path: Path) -> dict[str, int]:
    conn = _connect(path)
    try:
        return {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES}
    finally:
        conn.close()


def test_constants() -> None:
    assert SAMPLE_DB_NAME == "sample_sales"
    assert SAMPLE_DB_COMMENT and "\n" not in SAMPLE_DB_COMMENT


def test_schema_tables_keys_and_comments(db: Path) -> None:
    conn = _connect(db)
    try:
        ddl = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
        assert set(ddl) == set(TABLES)
        for table in TABLES:
            assert any(col[5] for col in conn.execute(f"PRAGMA table_info({table})")), f"{table} has no PK"
            assert "--" in ddl[table], f"{table} DDL keeps no column comment"
        fks = {(t, row[2]) for t in TABLES for row in conn.execute(f"PRAGMA foreign_key_list({t})")}
        assert {
            ("orders", "customers"),
            ("order_items", "orders"),
            ("payments", "orders"),
            ("employees", "employees"),
            ("products", "categories"),
        } <= fks
        assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION
    finally:
        conn.close()


def test_row_counts_and_date_range(db: Path) -> None:
    counts = _counts(db)
    assert 5_000 <= sum(counts.values()) <= 30_000
    assert 2_000 <= counts["orders"] <= 5_000
    assert counts["order_items"] > counts["orders"]
    assert 200 <= counts["customers"] <= 1_000
    assert 30 <= counts["employees"] <= 100
    assert 40 <= counts["products"] <= 150
    conn = _connect(db)
    try:
        years = [y for (y,) in conn.execute("SELECT DISTINCT strftime('%Y', order_date) FROM orders ORDER BY 1")]
        assert years == [str(y) for y in range(2019, 2025)]
        statuses = {s for (s,) in conn.execute("SELECT DISTINCT status FROM orders")}
        assert statuses == {"shipped", "pending", "cancelled", "returned"}
        # The holiday season is busier than late winter, so a monthly chart has a shape.
        by_month = dict(conn.execute("SELECT strftime('%m', order_date), COUNT(*) FROM orders GROUP BY 1"))
        assert by_month["12"] > 1.5 * by_month["02"]
    finally:
        conn.close()


def test_foreign_keys_and_totals_are_consistent(db: Path) -> None:
    conn = _connect(db)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Paid orders: the payments add up to the discounted order total, to the cent, as SQL computes it.
        mismatches = conn.execute(
            """
            WITH totals AS (
                SELECT order_id, ROUND(SUM(quantity * unit_price * (1 - discount)), 2) AS total
                FROM order_items GROUP BY order_id
            ), paid AS (SELECT order_id, ROUND(SUM(amount), 2) AS paid FROM payments GROUP BY order_id)
            SELECT COUNT(*) FROM totals JOIN paid USING (order_id) WHERE ABS(total - paid) > 0.005
            """
        ).fetchone()[0]
        assert mismatches == 0
        unpaid_shipped = conn.execute(
            "SELECT COUNT(*) FROM orders WHERE status IN ('shipped', 'returned') "
            "AND order_id NOT IN (SELECT order_id FROM payments)"
        ).fetchone()[0]
        assert unpaid_shipped == 0
        early = conn.execute(
            "SELECT COUNT(*) FROM orders o JOIN customers c USING (customer_id) WHERE o.order_date < c.signup_date"
        ).fetchone()[0]
        assert early == 0
        unavailable = conn.execute(
            "SELECT COUNT(*) FROM order_items oi JOIN orders o USING (order_id) JOIN products p USING (product_id) "
            "WHERE o.order_date < p.launch_date OR (p.discontinued = 1 AND o.order_date > '2023-06-30')"
        ).fetchone()[0]
        assert unavailable == 0
    finally:
        conn.close()


def test_existing_current_file_is_kept(db: Path, tmp_path: Path) -> None:
    path = ensure_sample_db(tmp_path / "kept.db")
    before = path.stat().st_mtime_ns, path.stat().st_ino
    assert ensure_sample_db(path) == path
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before


def test_older_version_or_broken_file_is_rebuilt(db: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE orders (order_id INTEGER PRIMARY KEY)")
    conn.execute(f"PRAGMA user_version = {VERSION - 1}")
    conn.commit()
    conn.close()
    ensure_sample_db(old)
    assert table_hashes(old) == table_hashes(db)

    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database at all")
    ensure_sample_db(broken)
    assert table_hashes(broken) == table_hashes(db)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.db", "old.db"]  # no temp file left


def test_newer_version_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ensure_sample_db(tmp_path / "s.db")
    monkeypatch.setattr(sample_db, "VERSION", VERSION + 1)
    ensure_sample_db(path)  # a generator of a newer version rebuilds...
    conn = _connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION + 1
    conn.close()
    monkeypatch.setattr(sample_db, "VERSION", VERSION)
    inode = path.stat().st_ino
    ensure_sample_db(path)  # ...and an older generator keeps its file
    assert path.stat().st_ino == inode


def test_concurrent_ensure_leaves_one_valid_file(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "race" / "sample.db"
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            ensure_sample_db(path)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert os.listdir(path.parent) == ["sample.db"]
    assert table_hashes(path) == table_hashes(db)


def _dev_set() -> list[dict[str, Any]]:
    return json.loads(DEV_SET.read_text(encoding="utf-8"))


def test_dev_set_shape() -> None:
    items = _dev_set()
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids))
    levels = Counter(item["level"] for item in items)
    assert set(levels) == {"easy", "medium", "hard"}
    assert all(count >= 12 for count in levels.values()), levels
    for item in items:
        assert set(item) == {"id", "level", "question", "gold_sql", "order_matters"}, item["id"]
        assert isinstance(item["order_matters"], bool)
        assert item["question"].strip().endswith(("?", ".")), item["id"]
        if item["order_matters"]:
            assert "ORDER BY" in item["gold_sql"].upper(), item["id"]


@pytest.mark.parametrize("item", _dev_set(), ids=lambda item: item["id"])
def test_dev_set_gold_sql_returns_rows(db: Path, item: dict[str, Any]) -> None:
    conn = _connect(db)
    try:
        rows = conn.execute(item["gold_sql"]).fetchall()
    finally:
        conn.close()
    assert rows, f"{item['id']} returns no row"
    assert any(value is not None for value in rows[0]), f"{item['id']} returns only NULLs (an empty aggregate)"
