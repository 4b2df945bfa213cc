"""Fixtures of the sql tests: a small SQLite shop in the data dir, and helpers to register it."""

from __future__ import annotations

import hashlib
import socket
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.datasource_models import Datasource

SECRET = "pw-Secret-42"


@pytest.fixture
def shop(settings: Settings) -> Path:
    """A SQLite file in the data dir: 25 items."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "shop.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, photo BLOB)")
    conn.executemany(
        "INSERT INTO items VALUES (?, ?, ?, ?)", [(i, f"item{i}", i * 1.5, b"\x01\x02") for i in range(1, 26)]
    )
    conn.commit()
    conn.close()
    return path


def add_shop(runtime: Runtime, **fields: object) -> Datasource:
    """Register the shop file as datasource `shop` (read-only unless `read_only=False`)."""
    return runtime.datasources.create({"db_name": "shop", "db_type": "sqlite", "db_path": "shop.db", **fields})


def engine_of(runtime: Runtime, name_or_id: str | int) -> Engine:
    """The cached engine of a datasource."""
    return runtime.engines.engine_for(runtime.datasources.resolve(name_or_id))[1]


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def table_hashes(path: Path) -> dict[str, str]:
    """A digest of every table's rows of a SQLite file, by table (opened read-only)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")]
        dumps = {table: repr(conn.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()) for table in tables}
        return {table: hashlib.sha256(dump.encode()).hexdigest() for table, dump in dumps.items()}
    finally:
        conn.close()
