"""Both bundled databases are built deterministically: the same rows twice, whatever the process's hash seed."""

from __future__ import annotations

import os
import subprocess
import sys
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
