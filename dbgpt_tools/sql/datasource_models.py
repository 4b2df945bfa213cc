"""Datasources as callers send them and as they are returned, with DB-GPT's field names (`DatasourceModel`).

For PostgreSQL and MySQL `db_name` is the database on the server (as in DB-GPT); for SQLite and DuckDB it is a
free name and `db_path` is the file. `db_pwd` is stored, never returned: a set password reads `"******"`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dbgpt_tools.json_types import DatasourceId, Port, drop_nulls
from dbgpt_tools.knowledge.models import aware
from dbgpt_tools.sql.locations import HOST_NAME_PATTERN, NOT_A_FILE_PATTERNS, check_host, not_a_file
from dbgpt_tools.store.models import DatasourceRow

MASK = "******"
DbType = Literal["sqlite", "duckdb", "postgresql", "mysql"]
OneLine = Field(pattern=r"^[^\x00-\x1f\x7f]*$")
NoNul = Field(pattern=r"^[^\x00]*$")
_FILE_TYPES: list[JsonValue] = ["sqlite", "duckdb"]
_SERVER_TYPES: list[JsonValue] = ["postgresql", "mysql"]
# What the registry requires of each type, in the JSON schema too (the OpenAPI document describes what is enforced)
_NOT_A_FILE: list[JsonValue] = [{"pattern": pattern} for pattern in NOT_A_FILE_PATTERNS]
_REQUIRED_BY_TYPE: list[JsonValue] = [
    {
        "if": {"properties": {"db_type": {"enum": types}}, "required": ["db_type"]},
        "then": {"properties": {field: {"type": "string", "minLength": 1}}, "required": [field]},
    }
    for types, field in ((_FILE_TYPES, "db_path"), (_SERVER_TYPES, "db_host"))
]


def known_db_type(value: Any) -> Any:
    """A database type in any case, lowered; an unknown type is refused with the supported ones named."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered not in get_args(DbType):
            raise ValueError(f"unsupported db_type {value!r}; supported: {', '.join(get_args(DbType))}")
        return lowered
    return value


class DatasourceIn(BaseModel):
    """A datasource as callers send it. `null` means absent; on update an empty or masked `db_pwd` keeps the old one,
    as long as the destination (type, host, port, user, database) stays the same."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"allOf": _REQUIRED_BY_TYPE})

    id: DatasourceId | None = Field(default=None, description="The datasource id (required on update).")
    db_name: Annotated[str, OneLine] = Field(
        min_length=1,
        max_length=256,
        description="Unique name (not all digits); the database name on a server.",
        json_schema_extra={"not": {"pattern": "^[0-9]+$"}},
    )
    db_type: DbType = Field(description="sqlite, duckdb, postgresql or mysql (any case).")
    db_path: Annotated[str, NoNul] = Field(
        default="",
        max_length=1024,
        validate_default=True,
        description="File of a SQLite/DuckDB database (relative: in the data dir); a plain path, not a URI, "
        "`:memory:` or `md:`.",
        json_schema_extra={"anyOf": [{"maxLength": 0}, {"not": {"anyOf": _NOT_A_FILE}}]},
    )
    db_host: str = Field(
        default="",
        max_length=253,
        validate_default=True,
        description="Server host name or IP address (PostgreSQL/MySQL); no port, brackets, lists or paths.",
        json_schema_extra={"anyOf": [{"maxLength": 0}, {"pattern": HOST_NAME_PATTERN}, {"format": "ipv6"}]},
    )
    db_port: Port = Field(default=0, description="Server port (0: the type's default).")
    db_user: Annotated[str, OneLine] = Field(default="", max_length=128, description="Database user.")
    db_pwd: Annotated[str, NoNul] = Field(
        default="", max_length=1024, description="Database password (stored, never returned)."
    )
    comment: Annotated[str, NoNul] = Field(default="", max_length=4096, description="Free description.")
    read_only: StrictBool = Field(
        default=True, description="Refuse every write (checked by the parser and the engine)."
    )

    _nulls = model_validator(mode="before")(drop_nulls)

    _known_type = field_validator("db_type", mode="before")(known_db_type)

    @field_validator("db_name")
    @classmethod
    def _not_an_id(cls, value: str) -> str:
        if value.isascii() and value.isdigit():
            raise ValueError("db_name must not be all digits: a number names the datasource with that id")
        return value

    @field_validator("db_path")
    @classmethod
    def _file(cls, value: str, info: ValidationInfo) -> str:
        _required_for(_FILE_TYPES, value, info)
        if value and not_a_file(value):
            raise ValueError(f"db_path {value[:100]!r} must be the path of a database file")
        return value

    @field_validator("db_host")
    @classmethod
    def _host(cls, value: str, info: ValidationInfo) -> str:
        _required_for(_SERVER_TYPES, value, info)
        return check_host(value) if value else value


def _required_for(types: list[JsonValue], value: str, info: ValidationInfo) -> None:
    """The field being validated must be set for datasources of these types."""
    db_type = info.data.get("db_type")
    if not value and db_type in types:
        raise ValueError(f"{info.field_name} is required for a {db_type} datasource")


class DatasourceUpdate(DatasourceIn):
    """A datasource update: every field, and the `id` of the datasource it replaces."""

    id: DatasourceId = Field(description="The datasource to update.")


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
    gmt_created: datetime | None = Field(default=None, description="When the datasource was registered.")
    gmt_modified: datetime | None = Field(default=None, description="When it was last changed.")

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
            gmt_created=aware(row.created_at),
            gmt_modified=aware(row.updated_at),
        )


class ConnectionStatus(BaseModel):
    """Outcome of a connection test: the server version when it answered, a short error otherwise."""

    ok: bool
    db_name: str
    db_type: str
    version: str | None = None
    elapsed_ms: float
    error: str | None = None
