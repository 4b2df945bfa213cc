"""What a datasource engine is built from: the connection fields, the read-only rule and the limits."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL

from dbgpt_tools.errors import InvalidInput

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
    max_value_bytes: int = 1024 * 1024
    memory_mb: int = 128
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
