"""DB-GPT's two datasource shapes on the REST face, read and written.

The flat shape (`db_type, db_name, db_path, db_host, db_port, db_user, db_pwd, comment`) is the core's and that of
DB-GPT's client; DB-GPT's current server and its web UI use `{type, params, description}`, where `params` holds
`path` for SQLite/DuckDB and `host, port, user, password, database` for PostgreSQL/MySQL. A request may come in
either shape, or in both (a round-tripped answer): a value changed in one shape wins over the other's unchanged one.
Answers carry both field sets, the password masked in both. The mapping is wire markup, so it lives here: the core,
MCP and LangChain keep the flat fields.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel, field_validator, model_validator

from dbgpt_tools.errors import InvalidInput, validated
from dbgpt_tools.json_types import DatasourceId, drop_nulls
from dbgpt_tools.sql.datasource_models import (
    Datasource,
    DatasourceIn,
    DatasourceUpdate,
    DbType,
    known_db_type,
)
from dbgpt_tools.sql.engine_config import DEFAULT_PORTS, FILE_TYPES, HOST_TYPES
from dbgpt_tools.sql.registry import DatasourceRegistry


@dataclass(frozen=True)
class ConnectionParam:
    """One key of `params`: the flat field it stands for, and how DB-GPT's UI shows it in its form."""

    name: str
    field: str
    label: str
    required: bool = False
    secret: bool = False


FILE_PARAMS = (ConnectionParam("path", "db_path", "Path", required=True),)
SERVER_PARAMS = (
    ConnectionParam("host", "db_host", "Host", required=True),
    ConnectionParam("port", "db_port", "Port"),
    ConnectionParam("user", "db_user", "User"),
    ConnectionParam("password", "db_pwd", "Password", secret=True),
    ConnectionParam("database", "db_name", "Database", required=True),
)
PARAMS: dict[str, tuple[ConnectionParam, ...]] = {
    db_type: FILE_PARAMS if db_type in FILE_TYPES else SERVER_PARAMS for db_type in get_args(DbType)
}
"""The `params` of each supported type."""


class DatasourceView(Datasource):
    """A datasource with both field sets: the flat ones, and DB-GPT's current `type`, `params`, `description`."""

    type: str = Field(description="The db_type.")
    params: dict[str, str | int] = Field(
        description="SQLite/DuckDB: path. PostgreSQL/MySQL: host, port (0: the type's default), user, password "
        '("******" when set), database.'
    )
    description: str = Field(description="The comment.")


class Datasources(RootModel[list[DatasourceView]]):
    """Every registered datasource (documentation only: `data` is a plain list)."""


def view(datasource: Datasource) -> DatasourceView:
    """A datasource as REST answers show it: both shapes (the core has already masked the password)."""
    values = datasource.model_dump()
    params = {param.name: values[param.field] for param in PARAMS.get(datasource.db_type, ())}
    return DatasourceView(**values, type=datasource.db_type, params=params, description=datasource.comment)


def _document_params(schema: dict[str, Any]) -> None:
    """What the flat validation enforces, in DatasourceParamsIn's JSON schema: each type's `params` with the schemas
    of the flat fields they stand for (null: absent), and a server datasource named by params.database alone."""
    flat = DatasourceIn.model_json_schema()["properties"]

    def field(name: str, required: bool = False) -> dict[str, Any]:
        own = {key: value for key, value in flat[name].items() if key not in ("title", "default", "description")}
        return {**own, "minLength": 1} if required else {"anyOf": [own, {"type": "null"}]}

    rules: list[Any] = []
    for params, types in ((FILE_PARAMS, sorted(FILE_TYPES)), (SERVER_PARAMS, sorted(HOST_TYPES))):
        properties = {param.name: field(param.field, param.required) for param in params}
        required = [param.name for param in params if param.required]
        then: dict[str, Any] = {
            "properties": {"params": {"type": "object", "properties": properties, "required": required}}
        }
        if params is SERVER_PARAMS:
            then["not"] = {"required": ["db_name"]}
        rules.append({"if": {"properties": {"type": {"enum": types}}, "required": ["type"]}, "then": then})
    schema["allOf"] = rules
    for name, flat_name in (("description", "comment"), ("db_name", "db_name")):
        schema["properties"][name] = {**field(flat_name), "description": schema["properties"][name]["description"]}


class DatasourceParamsIn(BaseModel):
    """A datasource in DB-GPT's current shape, as its web UI sends it."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_document_params)

    id: DatasourceId | None = Field(default=None, description="The datasource (required on update).")
    type: DbType = Field(description="sqlite, duckdb, postgresql or mysql (any case).")
    params: dict[str, JsonValue] = Field(
        description="SQLite/DuckDB: path. PostgreSQL/MySQL: host, port, user, password, database. Other keys are "
        "ignored."
    )
    description: str | None = Field(default=None, description="Free description (the comment).")
    db_name: str | None = Field(
        default=None,
        description="SQLite/DuckDB only: the datasource's name (default: `<type>_<file name>`; on update: kept).",
    )

    _nulls = model_validator(mode="before")(drop_nulls)
    _known_type = field_validator("type", mode="before")(known_db_type)


class DatasourceParamsUpdate(DatasourceParamsIn):
    """An update in DB-GPT's current shape: the `id` of the datasource it replaces. What the shape does not carry
    (`read_only`, a SQLite/DuckDB name) is kept."""

    id: DatasourceId = Field(description="The datasource to update.")


class AnyShapeDatasourceIn(RootModel[DatasourceIn | DatasourceParamsIn]):
    """A datasource in either shape (or both: a value changed in one shape wins over the other's unchanged one)."""


class AnyShapeDatasourceUpdate(RootModel[DatasourceUpdate | DatasourceParamsUpdate]):
    """A datasource update in either shape, with the `id` of the datasource it replaces."""


def datasource_in(
    registry: DatasourceRegistry, body: dict[str, Any], model: type[DatasourceIn] = DatasourceIn
) -> DatasourceIn:
    """A request body in either shape as the core's flat datasource, validated as `model` (blocking: a body in
    DB-GPT's current shape with an `id`, an update or a test of a stored datasource, is read against it)."""
    body = drop_nulls(body)
    if "type" not in body and "params" not in body:
        return validated(model, body)
    shaped = validated(DatasourceParamsIn, body)
    stored = registry.get(shaped.id) if shaped.id is not None else None  # an update, or a test of a stored one
    given = {name: value for name, value in body.items() if name in DatasourceIn.model_fields}
    flat = _merged(given, _flat_fields(shaped), stored, shaped.type)
    if stored is not None:  # what this shape cannot say is kept
        flat.setdefault("read_only", stored.read_only)
        if shaped.type in FILE_TYPES:
            flat.setdefault("db_name", stored.db_name)
    elif shaped.type in FILE_TYPES:  # named as DB-GPT names it: <type>_<file name up to its first dot>
        path = flat.get("db_path")
        file_name = posixpath.basename(path).split(".")[0] if isinstance(path, str) else ""
        flat.setdefault("db_name", _CONTROL.sub("_", f"{shaped.type}_{file_name}")[:256])
    try:
        return validated(model, flat)
    except InvalidInput as error:
        raise _in_shape_terms(error, shaped.type) from None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _flat_fields(shaped: DatasourceParamsIn) -> dict[str, Any]:
    """The flat fields that a body in DB-GPT's current shape gives."""
    flat: dict[str, Any] = {"db_type": shaped.type}
    if shaped.description is not None:
        flat["comment"] = shaped.description
    for param in PARAMS[shaped.type]:
        if shaped.params.get(param.name) is not None:
            flat[param.field] = shaped.params[param.name]
    return flat


def _merged(given: dict[str, Any], shaped: dict[str, Any], stored: Datasource | None, db_type: str) -> dict[str, Any]:
    """The flat fields given in both shapes: where the two disagree, the one that differs from the stored value
    wins; with no stored value, or when both differ from it, the request is refused."""
    if isinstance(given.get("db_type"), str):  # compared as the core reads it
        given = {**given, "db_type": given["db_type"].strip().lower()}
    merged = {**shaped, **given}
    before = stored.model_dump() if stored is not None else {}
    for name in given.keys() & shaped.keys():
        if given[name] == shaped[name]:
            continue
        if name in before and before[name] == given[name]:
            merged[name] = shaped[name]
        elif name not in before or before[name] != shaped[name]:
            raise InvalidInput(f"{name} and {_shape_names(db_type)[name]} disagree: send one of them", field=name)
    return merged


def _shape_names(db_type: str) -> dict[str, str]:
    """The name each flat field has in DB-GPT's current shape for this type."""
    names = {"db_type": "type", "comment": "description"}
    names.update({param.field: f"params.{param.name}" for param in PARAMS[db_type]})
    return names


def _in_shape_terms(error: InvalidInput, db_type: str) -> InvalidInput:
    """A refusal of the flat fields, naming them as the body in DB-GPT's current shape did."""
    names = _shape_names(db_type)
    message = re.sub(r"\b(?:db_\w+|comment)\b", lambda match: names.get(match[0], match[0]), error.message)
    return InvalidInput(message, field=names.get(error.field or "", error.field))


# --- The supported types, as DB-GPT's UI builds its form from them ---------------------------------------------


class TypeParameter(BaseModel):
    """One input of a datasource type's form (DB-GPT's ParameterDescription); the input's id is `param_name`."""

    param_name: str
    param_type: str = Field(description='"str" or "int", as DB-GPT spells them.')
    required: bool
    label: str
    description: str
    default_value: JsonValue = None
    valid_values: list[JsonValue] | None = None
    ext_metadata: dict[str, JsonValue] = Field(
        default_factory=dict, description='`{"tags": "privacy"}` for a secret (a password input).'
    )
    nested_fields: dict[str, list[TypeParameter]] | None = None
    param_order: int


class DatasourceType(BaseModel):
    """A supported datasource type and its `params`."""

    name: str
    label: str
    description: str
    parameters: list[TypeParameter]


class DatasourceTypes(BaseModel):
    """The supported datasource types (DB-GPT's ResourceTypes)."""

    types: list[DatasourceType]


_TYPE_TEXT = {
    "sqlite": ("SQLite", "A SQLite database file."),
    "duckdb": ("DuckDB", "A DuckDB database file."),
    "postgresql": ("PostgreSQL", "A PostgreSQL database on a server."),
    "mysql": ("MySQL", "A MySQL or MariaDB database on a server."),
}


def _parameter(db_type: str, param: ConnectionParam, order: int) -> TypeParameter:
    field = DatasourceIn.model_fields[param.field]
    description = "The database on the server." if param.field == "db_name" else field.description or ""
    return TypeParameter(
        param_name=param.name,
        param_type="int" if field.annotation is int else "str",
        required=param.required,
        label=param.label,
        description=description,
        default_value=DEFAULT_PORTS[db_type] if param.name == "port" else None,
        ext_metadata={"tags": "privacy"} if param.secret else {},
        param_order=order,
    )


DATASOURCE_TYPES = DatasourceTypes(
    types=[
        DatasourceType(
            name=db_type,
            label=_TYPE_TEXT[db_type][0],
            description=_TYPE_TEXT[db_type][1],
            parameters=[_parameter(db_type, param, order) for order, param in enumerate(params)],
        )
        for db_type, params in PARAMS.items()
    ]
)
"""What `GET /api/v2/serve/datasource-types` answers."""
