"""Where file databases may live: a `db_path` must resolve (home, symlinks, `..`) inside an allowed root."""

from __future__ import annotations

from pathlib import Path

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.settings import Settings


def confine_path(settings: Settings, db_path: str) -> Path:
    """`db_path` resolved, relative to the data dir; refused outside `settings.allowed_db_roots`."""
    if not db_path.strip():
        raise InvalidInput("db_path is required for a file database", field="db_path")
    roots = settings.allowed_db_roots
    candidate = Path(db_path).expanduser()
    resolved = (candidate if candidate.is_absolute() else roots[0] / candidate).resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise InvalidInput(
            f"db_path {db_path!r} is outside the allowed roots ({allowed}); add a directory to DBGPT_DB_ROOTS",
            field="db_path",
        )
    return resolved


def database_file(settings: Settings, db_path: str, read_only: bool) -> Path:
    """The confined file of a datasource; a read-only one must exist (it cannot be created)."""
    path = confine_path(settings, db_path)
    if read_only and not path.is_file():
        raise InvalidInput(
            f"db_path {db_path!r} does not exist (a read-only datasource needs an existing file)", field="db_path"
        )
    return path
