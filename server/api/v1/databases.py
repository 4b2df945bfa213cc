"""`/api/v1/chat/db/*` and `/api/v1/editor/*`: DB-GPT's v1 datasource and SQL editor calls over the datasource registry
and the SQL safety gate.

Shapes are DB-GPT's: a body is its v1 `DBConfig` (`file_path` for the file of SQLite/DuckDB) or either shape of
`/api/v2/serve/datasources`; a datasource is named by `db_name`; most calls answer `true`. Unlike DB-GPT, a failure
is an HTTP 4xx in the envelope (a failed connection test too, so a UI stops), and the SQL editor runs through the
same executor as every face: one statement, read-only unless the datasource is writable, rows capped, time-limited.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field, JsonValue, RootModel, TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.errors import InvalidInput, validated
from dbgpt_tools.json_types import RowLimit
from dbgpt_tools.operations import datasources as datasource_operations
from dbgpt_tools.operations import sql as sql_operations
from dbgpt_tools.operations.base import NoArgs
from dbgpt_tools.operations.datasources import DatasourceName, DatasourceRef
from dbgpt_tools.operations.sql import RunSqlArgs
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.sql.datasource_models import DatasourceIn, DatasourceUpdate, DbType
from dbgpt_tools.sql.engine_config import FILE_TYPES
from dbgpt_tools.sql.results import Rows
from dbgpt_tools.sql.schema_models import SchemaInfo
from server.api.v2.datasource_shapes import (
    PARAMS,
    AnyShapeDatasourceIn,
    DatasourceParamsUpdate,
    Datasources,
    view,
)
from server.api.v2.datasources import BY_NAME_OR_ID, Done, read_datasource, tested
from server.openapi import Endpoint, Handler, Param
from server.requests import json_object
from server.responses import envelope

DB = "/api/v1/chat/db"
EDITOR = "/api/v1/editor"
MAX_PAGE_SIZE = 1000


class DbTypeInfo(BaseModel):
    """A supported database type (DB-GPT's DbTypeInfo)."""

    db_type: str
    is_file_db: bool


class DbTypes(RootModel[list[DbTypeInfo]]):
    """The supported database types (documentation only: `data` is a plain list)."""


class DataNode(BaseModel):
    """A node of the SQL editor's tree (DB-GPT's DataNode): the database, its tables, their columns."""

    title: str
    key: str
    type: str = Field(description='"db", "table", or a column\'s declared type.')
    default_value: JsonValue = None
    can_null: str = Field(default="YES", description='"YES" or "NO".')
    comment: str | None = None
    children: list[DataNode] = Field(default_factory=list)


class SqlRun(BaseModel):
    """One statement for the SQL editor."""

    db_name: str = DatasourceName
    sql: str = Field(min_length=1, max_length=100_000, description="One SQL statement in the datasource's dialect.")
    limit: RowLimit | None = Field(default=None, description="Row cap (default: the server's).")


class SqlRunData(BaseModel):
    """The editor's result (DB-GPT's SqlRunData, `colunms` spelled as DB-GPT spells it), with the truncation."""

    result_info: str = Field(description='"" when every row came back, else why rows are missing.')
    run_cost: float = Field(description="Seconds the statement took.")
    colunms: list[str]
    values: Rows
    truncated: bool = Field(description="True when the statement produced more rows than were returned.")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _query(request: Request, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> dict[str, str]:
    """The query parameters `required` and `optional`, each at most once (400 naming any other, or a missing one)."""
    params = request.query_params
    for name in params:
        if name not in (*required, *optional):
            raise InvalidInput(f"unknown query parameter {name[:40]!r}", field=name)
        if len(params.getlist(name)) > 1:
            raise InvalidInput(f"{name} must be given at most once", field=name)
    for name in required:
        if not params.get(name):
            raise InvalidInput(f"{name} is required (a query parameter)", field=name)
    return dict(params)


def _positive(values: dict[str, str], name: str, default: int, maximum: int) -> int:
    raw = values.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10 and 1 <= int(raw) <= maximum):
        raise InvalidInput(f"{name} must be an integer from 1 to {maximum}, got {raw[:40]!r}", field=name)
    return int(raw)


async def _db_config(request: Request) -> dict[str, Any]:
    """The body, with v1's `file_path` read as db_path (DB-GPT's v1 `DBConfig` names it so)."""
    body = await json_object(request)
    if body.get("file_path"):
        if body.get("db_path") not in (None, body["file_path"]):
            raise InvalidInput("file_path and db_path disagree: send one of them", field="file_path")
        body = {**body, "db_path": body["file_path"]}
    body.pop("file_path", None)
    return body


async def list_databases(request: Request) -> Response:
    name = _query(request, optional=("db_name",)).get("db_name") or None
    found = await datasource_operations.list_datasources(_runtime(request).datasources, NoArgs())
    rows = [view(d) for d in found.datasources if name is None or d.db_name.lower() == name.lower()]
    return await envelope(rows)


async def add_database(request: Request) -> Response:
    body = await read_datasource(request, await _db_config(request), DatasourceIn)
    await datasource_operations.create_datasource(_runtime(request).datasources, body)
    return await envelope(True)


async def edit_database(request: Request) -> Response:
    """Update the datasource the body names by `db_name` (or `id`); v1's DBConfig cannot say `read_only`, which is
    kept."""
    body = await _db_config(request)
    if body.get("id") is None and isinstance(body.get("db_name"), str):
        row = await asyncio.to_thread(_runtime(request).datasources.resolve, body["db_name"])
        body = {"read_only": row.read_only, **body, "id": row.id}
    datasource = await read_datasource(request, body, DatasourceUpdate)
    await asyncio.to_thread(_runtime(request).datasources.update, datasource)
    return await envelope(True)


async def delete_database(request: Request) -> Response:
    ref = validated(DatasourceRef, {"datasource": _query(request, required=("db_name",))["db_name"]})
    await datasource_operations.delete_datasource(_runtime(request).datasources, ref)
    return await envelope(True)


async def check_connect(request: Request) -> Response:
    await tested(request, await read_datasource(request, await _db_config(request), DatasourceIn))
    return await envelope(True)


async def summary(request: Request) -> Response:
    """DB-GPT rebuilds its summary of the database here; we forget its kept schema, read again on its next use."""
    values = _query(request, required=("db_name",), optional=("db_type",))
    ref = validated(DatasourceRef, {"datasource": values["db_name"]})
    row = await asyncio.to_thread(_runtime(request).datasources.resolve, ref.datasource)
    if values.get("db_type", row.db_type).strip().lower() != row.db_type:
        raise InvalidInput(
            f"{row.db_name} is a {row.db_type} datasource, not {values['db_type'][:40]!r}", field="db_type"
        )
    await asyncio.to_thread(_runtime(request).schemas.forget, row.id)
    return await envelope(True)


async def support_types(request: Request) -> Response:
    return await envelope([DbTypeInfo(db_type=db_type, is_file_db=db_type in FILE_TYPES) for db_type in PARAMS])


def _tree(schema: SchemaInfo, name: str, search: str, page_index: int, page_size: int) -> DataNode:
    tables = [table for table in schema.tables if search.lower() in table.name.lower()]
    page = tables[(page_index - 1) * page_size : page_index * page_size]
    return DataNode(
        title=name,
        key=name,
        type="db",
        children=[
            DataNode(
                title=table.name,
                key=table.name,
                type="table",
                comment=table.comment,
                children=[
                    DataNode(
                        title=column.name,
                        key=column.name,
                        type=column.type,
                        can_null="YES" if column.nullable else "NO",
                        comment=column.comment,
                    )
                    for column in table.columns
                ],
            )
            for table in page
        ],
    )


async def editor_tables(request: Request) -> Response:
    values = _query(request, required=("db_name",), optional=("page_index", "page_size", "search_str", "db_type"))
    ref = validated(DatasourceRef, {"datasource": values["db_name"]})
    page_index = _positive(values, "page_index", 1, 10**6)
    page_size = _positive(values, "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    schema = await asyncio.to_thread(_runtime(request).schemas.schema, ref.datasource)
    return await envelope(_tree(schema, ref.datasource, values.get("search_str", ""), page_index, page_size))


async def editor_sql_run(request: Request) -> Response:
    run = validated(SqlRun, await json_object(request))
    args = RunSqlArgs(datasource=run.db_name, sql=run.sql, limit=run.limit)
    result = await sql_operations.run_sql(_runtime(request).sql, args)
    return await envelope(
        SqlRunData.model_construct(
            result_info=result.truncation() or "",
            run_cost=result.elapsed_ms / 1000,
            colunms=result.columns,
            values=result.rows,
            truncated=result.truncated,
        )
    )


class AnyShapeDbEdit(RootModel[DatasourceIn | DatasourceParamsUpdate]):
    """A datasource named by its db_name (flat shape) or its id (either shape)."""


def _text(name: str, description: str, *, required: bool = False) -> Param:
    return Param(name, "query", {"type": "string", "maxLength": 256}, description, required=required)


def _integer(name: str, description: str, maximum: int) -> Param:
    return Param(name, "query", {"type": "integer", "minimum": 1, "maximum": maximum}, description)


DB_NAME = Param("db_name", "query", BY_NAME_OR_ID.schema, "The datasource's db_name.", required=True)
DB_TYPE = Param("db_type", "query", TypeAdapter(DbType).json_schema(), "Its type (refused when it is another).")
V1_BODY = "; the body is v1's DBConfig (file_path: the file of SQLite/DuckDB) or either /api/v2 shape"
DATABASES_ROUTES: list[tuple[Endpoint, Handler]] = [
    (
        Endpoint(
            "GET",
            DB + "/list",
            "v1: every datasource (both field sets, as /api/v2/serve/datasources lists them), or the one db_name",
            params=(_text("db_name", "Only the datasource with this db_name."),),
            response=Datasources,
            enveloped=True,
        ),
        list_databases,
    ),
    (
        Endpoint(
            "POST",
            DB + "/add",
            "v1: register a datasource (data: true)" + V1_BODY,
            body=AnyShapeDatasourceIn,
            response=Done,
            enveloped=True,
        ),
        add_database,
    ),
    (
        Endpoint(
            "POST",
            DB + "/edit",
            "v1: update the datasource named by db_name (or id); an empty or masked password keeps the stored one, "
            "read_only is kept unless given (data: true)" + V1_BODY,
            body=AnyShapeDbEdit,
            response=Done,
            enveloped=True,
        ),
        edit_database,
    ),
    (
        Endpoint(
            "POST",
            DB + "/delete",
            "v1: remove a datasource (the database is untouched; data: true)",
            params=(DB_NAME,),
            response=Done,
            enveloped=True,
        ),
        delete_database,
    ),
    (
        Endpoint(
            "POST",
            DB + "/test/connect",
            "v1: test an unsaved datasource's connection (data: true; a failure is a 400, err_code E1001)" + V1_BODY,
            body=AnyShapeDatasourceIn,
            response=Done,
            enveloped=True,
        ),
        check_connect,
    ),
    (
        Endpoint(
            "POST",
            DB + "/summary",
            "v1: forget a datasource's kept schema, so that its next use reads it again (data: true)",
            params=(DB_NAME, DB_TYPE),
            response=Done,
            enveloped=True,
        ),
        summary,
    ),
    (
        Endpoint("GET", DB + "/support/type", "v1: the supported database types", response=DbTypes, enveloped=True),
        support_types,
    ),
    (
        Endpoint(
            "GET",
            EDITOR + "/db/tables",
            "v1 SQL editor: the datasource's tables and their columns as a tree (tables paged, filtered by search_str)",
            params=(
                DB_NAME,
                _integer("page_index", "The page of tables, from 1.", 10**6),
                _integer("page_size", f"Tables per page (default and at most {MAX_PAGE_SIZE}).", MAX_PAGE_SIZE),
                _text("search_str", "Only tables whose name contains this (any case)."),
                _text("db_type", "Ignored (DB-GPT's UI sends it)."),
            ),
            upstream=True,
            response=DataNode,
            enveloped=True,
        ),
        editor_tables,
    ),
    (
        Endpoint(
            "POST",
            EDITOR + "/sql/run",
            "v1 SQL editor: run one statement (read-only unless the datasource is writable, rows capped, time-limited)",
            body=SqlRun,
            upstream=True,
            response=SqlRunData,
            enveloped=True,
        ),
        editor_sql_run,
    ),
]
