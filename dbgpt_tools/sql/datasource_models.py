"""Datasources as callers send them and as they are returned, with DB-GPT's field names (`DatasourceModel`).

For PostgreSQL and MySQL `db_name` is the database on the server (as in DB-GPT); for SQLite and DuckDB it is a
free name and `db_path` is the file. `db_pwd` is stored, never returned: a set password reads `"******"`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dbgpt_tools.store.models import DatasourceRow

MASK = "******"


class DatasourceIn(BaseModel):
    """A datasource as callers send it. `null` means absent; on update an empty or masked `db_pwd` keeps the old one."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: int | None = Field(default=None, description="The datasource id (required on update).")
    db_name: str = Field(min_length=1, max_length=256, description="Unique name; the database name on a server.")
    db_type: str = Field(min_length=1, description="sqlite, duckdb, postgresql or mysql.")
    db_path: str = Field(default="", description="File of a SQLite/DuckDB database (relative: in the data dir).")
    db_host: str = Field(default="", description="Server host (PostgreSQL/MySQL).")
    db_port: int = Field(default=0, ge=0, le=65535, description="Server port (0: the type's default).")
    db_user: str = Field(default="", description="Database user.")
    db_pwd: str = Field(default="", description="Database password (stored, never returned).")
    comment: str = Field(default="", description="Free description.")
    read_only: bool = Field(default=True, description="Refuse every write (checked by the parser and the engine).")

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value is not None}
        return data


class Datasource(BaseModel):
    """A datasource as returned: `db_pwd` is `"******"` when a password is set, `""` otherwise."""

    id: int
    db_name: str
    db_type: str
    db_path: str = ""
    db_host: str = ""
    db_port: int = 0
    db_user: str = ""
    db_pwd: str = ""
    comment: str = ""
    read_only: bool = True

    @classmethod
    def from_row(cls, row: DatasourceRow) -> Datasource:
        """The stored row as callers see it (password masked)."""
        return cls(
            id=row.id,
            db_name=row.db_name,
            db_type=row.db_type,
            db_path=row.db_path,
            db_host=row.db_host,
            db_port=row.db_port,
            db_user=row.db_user,
            db_pwd=MASK if row.db_pwd else "",
            comment=row.comment,
            read_only=row.read_only,
        )


class ConnectionStatus(BaseModel):
    """Outcome of a connection test: the server version when it answered, a short error otherwise."""

    ok: bool
    db_name: str
    db_type: str
    version: str | None = None
    elapsed_ms: float
    error: str | None = None
