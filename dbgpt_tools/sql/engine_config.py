"""What a datasource engine is built from: the connection fields, the read-only rule and the time limit; and where
file databases may live (a `db_path` must resolve, symlinks and `..` followed, inside an allowed root)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL

from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.settings import Settings

FILE_TYPES = frozenset({"sqlite", "duckdb"})


HOST_TYPES = frozenset({"postgresql", "mysql"})


DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class EngineConfig:
    """Everything an engine is built from; `fingerprint()` changes whenever any of it does."""

    db_type: str
    read_only: bool
    timeout: float
    path: Path | None = None
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = field(default="", repr=False)
    database: str = ""

    def fingerprint(self) -> str:
        """A hash of every connection field (the password included, never the password itself)."""
        payload = json.dumps(asdict(self), default=str, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def timeout_ms(self) -> int:
        return max(1, math.ceil(self.timeout * 1000))


def build_url(config: EngineConfig) -> URL:
    """The SQLAlchemy URL of a datasource (its `repr` masks the password)."""
    if config.db_type == "sqlite":
        return URL.create("sqlite", database=str(config.path))
    if config.db_type == "duckdb":
        return URL.create("duckdb", database=str(config.path))
    drivername = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}.get(config.db_type)
    if drivername is None:
        raise InvalidInput(f"unsupported db_type {config.db_type!r}", field="db_type")
    return URL.create(
        drivername,
        username=config.user or None,
        password=config.password or None,
        host=config.host,
        port=config.port or DEFAULT_PORTS[config.db_type],
        database=config.database or None,
    )


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
