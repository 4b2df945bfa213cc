"""Building a bundled sample database: atomically, once per generator version.

The file is built beside its final path and moved into place with `os.replace`, so readers and concurrent
callers only ever see a complete database; the generator version is stored in `PRAGMA user_version`, and a
file of that version (or a newer one) is kept as it is.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path


def ensure_bundled(path: Path, version: int, marker_table: str, build: Callable[[sqlite3.Connection], None]) -> Path:
    """Create the database at `path` with `build` unless a file of `version` (or newer) holding `marker_table` is
    there. `build` creates the tables and inserts the rows; the version is stamped after it returns."""
    path = Path(path)
    if stored_version(path, marker_table) >= version:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("PRAGMA foreign_keys = ON")
            build(conn)
            conn.execute(f"PRAGMA user_version = {int(version)}")
            conn.commit()
        finally:
            conn.close()
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def stored_version(path: Path, marker_table: str) -> int:
    """`PRAGMA user_version` of the file at `path`; -1 when missing, not a readable database, or without the
    table `marker_table` (another database of the same name)."""
    if not path.is_file():
        return -1
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (marker_table,)).fetchone()
            return int(conn.execute("PRAGMA user_version").fetchone()[0]) if found else -1
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return -1
