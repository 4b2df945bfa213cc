"""`/api/v2/serve/datasources`: DB-GPT's datasource CRUD in the result envelope, plus our test/query/schema routes.

Bodies come in either of DB-GPT's shapes and answers carry both (`datasource_shapes`). CRUD paths take the integer
id (a numeric string such as `"7"`); the other item routes (`refresh`, `test-connection`, `query`, `schema`) take an
id or a `db_name`. Failures are `dbgpt_tools.errors` exceptions, which the app's exception handlers render as the
envelope with a 4xx status.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import RootModel, TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.errors import InvalidInput, validated
from dbgpt_tools.json_types import DatasourceId
from dbgpt_tools.operations import datasources as datasource_operations
from dbgpt_tools.operations import sql as sql_operations
from dbgpt_tools.operations.datasources import DatasourceRef
from dbgpt_tools.operations.sql import RunSqlArgs, SchemaArgs, SchemaDescription, SqlStatement
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.sql.datasource_models import ConnectionStatus, DatasourceIn, DatasourceUpdate
from dbgpt_tools.sql.results import QueryResult
from server.api.v2.datasource_shapes import (
    DATASOURCE_TYPES,
    AnyShapeDatasourceIn,
    AnyShapeDatasourceUpdate,
    Datasources,
    DatasourceTypes,
    DatasourceView,
    datasource_in,
    view,
)
from server.openapi import Endpoint, Handler, Param
from server.requests import json_object, path_id
from server.responses import envelope

BASE = "/api/v2/serve/datasources"


class Done(RootModel[bool]):
    """`true`: the request was carried out."""


class ConnectionFailed(InvalidInput):
    """A connection test that did not connect: an HTTP 400, so that DB-GPT's web UI does not go on to save the
    datasource (err_code E1001, as DB-GPT's v1 test reports it)."""

    code = "E1001"


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _path_id(request: Request) -> int:
    return path_id(request, "datasource_id")


async def read_datasource(request: Request, body: dict[str, Any], model: type[DatasourceIn]) -> DatasourceIn:
    """A request's datasource, in either shape, as the core's flat `model`."""
    return await asyncio.to_thread(datasource_in, _runtime(request).datasources, body, model)


async def tested(request: Request, datasource: DatasourceIn) -> ConnectionStatus:
    """The connection test of an unsaved datasource (ConnectionFailed when it did not connect)."""
    status = await asyncio.to_thread(_runtime(request).connections.test, datasource)
    if not status.ok:
        raise ConnectionFailed(f"connection test failed: {status.error}")
    return status


async def create_datasource(request: Request) -> Response:
    body = await read_datasource(request, await json_object(request), DatasourceIn)
    return await envelope(view(await asyncio.to_thread(_runtime(request).datasources.create, body)))


async def update_datasource(request: Request) -> Response:
    body = await read_datasource(request, await json_object(request), DatasourceUpdate)
    return await envelope(view(await asyncio.to_thread(_runtime(request).datasources.update, body)))


async def delete_datasource(request: Request) -> Response:
    return await envelope(view(await asyncio.to_thread(_runtime(request).datasources.delete, _path_id(request))))


async def get_datasource(request: Request) -> Response:
    return await envelope(view(await asyncio.to_thread(_runtime(request).datasources.get, _path_id(request))))


async def list_datasources(request: Request) -> Response:
    return await envelope(
        [view(datasource) for datasource in await asyncio.to_thread(_runtime(request).datasources.list)]
    )


async def list_types(request: Request) -> Response:
    return await envelope(DATASOURCE_TYPES)


async def check_new_connection(request: Request) -> Response:
    body = await read_datasource(request, await json_object(request), DatasourceIn)
    return await envelope(await tested(request, body))


async def refresh(request: Request) -> Response:
    """Forget the datasource's kept schema (DB-GPT rebuilds its summary here); the next use reads it afresh."""
    args = validated(DatasourceRef, {"datasource": request.path_params["datasource_id"]})
    await asyncio.to_thread(_runtime(request).schemas.forget, args.datasource)
    return await envelope(True)


async def check_connection(request: Request) -> Response:
    args = validated(DatasourceRef, {"datasource": request.path_params["datasource_id"]})
    return await envelope(await datasource_operations.check_connection(_runtime(request).connections, args))


async def query(request: Request) -> Response:
    body = await json_object(request)
    args = validated(RunSqlArgs, {**body, "datasource": request.path_params["datasource_id"]})
    return await envelope(await sql_operations.run_sql(_runtime(request).sql, args))


async def describe_schema(request: Request) -> Response:
    params = request.query_params
    for name in params:
        if name not in ("question", "max_tokens"):
            raise InvalidInput(f"unknown query parameter {name[:40]!r}: only question and max_tokens", field=name)
        if len(params.getlist(name)) > 1:
            raise InvalidInput(f"{name} must be given at most once", field=name)
    values: dict[str, Any] = {"datasource": request.path_params["datasource_id"], "question": params.get("question")}
    if "max_tokens" in params:  # a query parameter is text: an integer when it is only digits
        raw = params["max_tokens"]
        values["max_tokens"] = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else raw
    return await envelope(
        await sql_operations.describe_schema(_runtime(request).schemas, validated(SchemaArgs, values))
    )


ITEM = BASE + "/{datasource_id}"
BY_ID = Param("datasource_id", "path", TypeAdapter(DatasourceId).json_schema(), "The datasource's integer id.")
BY_NAME_OR_ID = Param(
    "datasource_id",
    "path",
    {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\x00-\\x1f\\x7f]+$"},
    "The datasource's id, or its db_name.",
)
QUESTION = Param(
    "question", "query", {"type": "string", "maxLength": 4000}, "Rank tables by relevance to this question."
)
MAX_TOKENS = Param(
    "max_tokens", "query", {"type": "integer", "minimum": 100, "maximum": 100_000}, "Budget of the schema text."
)
# Literal paths come before `{datasource_id}` ones, so `test-connection` is never read as an id.
DATASOURCE_ROUTES: list[tuple[Endpoint, Handler]] = [
    (
        Endpoint(
            "POST",
            BASE,
            "Create a datasource, in either shape (db_pwd / params.password is stored, returned masked)",
            body=AnyShapeDatasourceIn,
            response=DatasourceView,
            enveloped=True,
        ),
        create_datasource,
    ),
    (
        Endpoint(
            "PUT",
            BASE,
            "Update a datasource, in either shape (id in the body; an empty or masked password keeps the stored one "
            "for the same destination)",
            body=AnyShapeDatasourceUpdate,
            response=DatasourceView,
            enveloped=True,
        ),
        update_datasource,
    ),
    (
        Endpoint("GET", BASE, "List every datasource (data is a plain list)", response=Datasources, enveloped=True),
        list_datasources,
    ),
    (
        Endpoint(
            "GET",
            "/api/v2/serve/datasource-types",
            "The supported datasource types and the params of each (the web UI builds its form from them)",
            response=DatasourceTypes,
            enveloped=True,
        ),
        list_types,
    ),
    (
        Endpoint(
            "POST",
            BASE + "/test-connection",
            "Test an unsaved datasource's connection, in either shape (with an id and no password: the stored one); "
            "a failed test is a 400 (err_code E1001)",
            body=AnyShapeDatasourceIn,
            response=ConnectionStatus,
            enveloped=True,
        ),
        check_new_connection,
    ),
    (
        Endpoint(
            "GET", ITEM, "Get a datasource by integer id", params=(BY_ID,), response=DatasourceView, enveloped=True
        ),
        get_datasource,
    ),
    (
        Endpoint(
            "DELETE",
            ITEM,
            "Delete a datasource by integer id (the database itself is untouched)",
            params=(BY_ID,),
            response=DatasourceView,
            enveloped=True,
        ),
        delete_datasource,
    ),
    (
        Endpoint(
            "POST",
            ITEM + "/refresh",
            "Forget a datasource's kept schema (by id or db_name), so that its next use reads it again",
            params=(BY_NAME_OR_ID,),
            response=Done,
            enveloped=True,
        ),
        refresh,
    ),
    (
        Endpoint(
            "GET",
            ITEM + "/test-connection",
            "dbgpt-tools extension: test a registered datasource's connection (by id or db_name)",
            params=(BY_NAME_OR_ID,),
            response=ConnectionStatus,
            enveloped=True,
        ),
        check_connection,
    ),
    (
        Endpoint(
            "POST",
            ITEM + "/query",
            "dbgpt-tools extension: run one SQL statement on a datasource (by id or "
            "db_name); read-only unless the datasource is writable, row-capped, time-limited",
            params=(BY_NAME_OR_ID,),
            body=SqlStatement,
            upstream=True,
            response=QueryResult,
            enveloped=True,
        ),
        query,
    ),
    (
        Endpoint(
            "GET",
            ITEM + "/schema",
            "dbgpt-tools extension: a datasource's schema (by id or db_name) as CREATE "
            "TABLE text; query params question (rank tables by relevance) and max_tokens (budget)",
            params=(BY_NAME_OR_ID, QUESTION, MAX_TOKENS),
            upstream=True,
            response=SchemaDescription,
            enveloped=True,
        ),
        describe_schema,
    ),
]
