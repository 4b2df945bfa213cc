"""Both bundled databases are built deterministically: the same rows twice, whatever the process's hash seed."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from dbgpt_tools.sql.sample_db import ensure_sample_db
from dbgpt_tools.sql.sample_logistics import ensure_logistics_db
from tests.sql.conftest import table_hashes

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = {"sample_db": ensure_sample_db, "sample_logistics": ensure_logistics_db}


@pytest.mark.parametrize("module", sorted(BUNDLED))
def test_generation_is_deterministic_whatever_the_hash_seed(module: str, tmp_path: Path) -> None:
    ensure: Callable[[Path], Path] = BUNDLED[module]
    first, again = ensure(tmp_path / "first.sqlite"), ensure(tmp_path / "again.sqlite")
    assert table_hashes(first) == table_hashes(again) and len(table_hashes(first)) >= 9
    other = tmp_path / "other-process.sqlite"
    code = f"import sys; from pathlib import Path; from dbgpt_tools.sql.{module} import {ensure.__name__}; "
    code += f"{ensure.__name__}(Path(sys.argv[1]))"
    env = {**os.environ, "PYTHONHASHSEED": "4321"}
    subprocess.run([sys.executable, "-c", code, str(other)], check=True, env=env, cwd=ROOT, timeout=60)
    assert table_hashes(other) == table_hashes(first)


def test_the_frozen_test_split_is_stratified_and_every_gold_query_answers(tmp_path: Path) -> None:
    """The text-to-SQL test split (benchmarks/text2sql_test.json) covers both databases and the three levels, its
    markdown lists the same questions, and every gold query returns rows on its database."""
    split = json.loads((ROOT / "benchmarks" / "text2sql_test.json").read_text())
    assert len(split) >= 40 and len({q["id"] for q in split}) == len(split)
    strata = Counter((q["db"], q["level"]) for q in split)
    assert {db for db, _ in strata} == {"sample_sales", "sample_logistics"}
    assert all(strata[(db, level)] >= 6 for db, _ in strata for level in ("easy", "medium", "hard")), strata
    listed = re.findall(
        r"^\| (t\d\d) \| (\w+) \| (\w+) \|", (ROOT / "benchmarks" / "text2sql_test.md").read_text(), re.M
    )
    assert listed == [(q["id"], q["db"], q["level"]) for q in split]
    paths = {"sample_sales": ensure_sample_db, "sample_logistics": ensure_logistics_db}
    connections = {db: sqlite3.connect(ensure(tmp_path / f"{db}.sqlite")) for db, ensure in paths.items()}
    for question in split:
        assert connections[question["db"]].execute(question["gold_sql"]).fetchall(), question["id"]
