"""The OpenAPI document built from the app's endpoint table, and an offline `/docs` page that lists it."""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

REF = "#/components/schemas/{model}"
STATUS_DESCRIPTIONS = {200: "OK", 202: "Accepted: the work goes on in the background", 303: "See Other"}
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Param:
    """A path or query parameter: its name, where it goes, and the JSON schema of what the route accepts."""

    name: str
    location: Literal["path", "query"]
    schema: dict[str, Any]
    description: str
    required: bool = False  # a query parameter the route cannot do without (a path parameter always is)

    def document(self) -> dict[str, Any]:
        required = self.location == "path" or self.required
        return {"name": self.name, "in": self.location, "required": required, "schema": self.schema,
                "description": self.description}  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    """One documented route: what it takes and what it answers."""

    method: str
    path: str
    summary: str
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    body_media: tuple[str, ...] = ("application/json",)  # the media types the body may come as
    response: type[BaseModel] | None = None
    enveloped: bool = False
    stream: type[BaseModel] | None = None  # the model of each server-sent event's JSON data
    upstream: bool = False  # a database or the LLM answers for it: 502 when it fails, 504 past the time limit
    status: int = 200  # the success status (202 for work that goes on in the background)
    page: bool = False  # answers an HTML page (a refusal too, besides the guards' JSON envelope)


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def sse_event_schema(data: dict[str, Any]) -> dict[str, Any]:
    """One server-sent event whose data is JSON matching `data` (a `$ref`), or the closing `[DONE]`."""
    json_data = {"type": "string", "contentMediaType": "application/json", "contentSchema": data}
    return {"type": "object", "properties": {"data": {"anyOf": [{"const": "[DONE]"}, json_data]}}, "required": ["data"]}


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "success": {"type": "boolean"},
            "err_code": {"type": ["string", "null"]},
            "err_msg": {"type": ["string", "null"]},
            "data": data,
        },
    }


def openapi_document(endpoints: list[Endpoint], version: str) -> dict[str, Any]:
    """OpenAPI 3.1 for the endpoints; errors are DB-GPT's envelope; `/api` needs a Bearer key (or a login cookie)."""
    components: dict[str, Any] = {}
    envelope_error: dict[str, Any] = {"application/json": {"schema": _envelope({"type": "null"})}}
    error: dict[str, Any] = {"description": "refused", "content": envelope_error}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        content: dict[str, Any] = {}
        if endpoint.response is not None:
            schema = _schema(endpoint.response, components)
            content["application/json"] = {"schema": _envelope(schema) if endpoint.enveloped else schema}
        if endpoint.stream is not None:
            content["text/event-stream"] = {"schema": sse_event_schema(_schema(endpoint.stream, components))}
        refused = error
        if endpoint.page:
            html_page = {"text/html": {"schema": {"type": "string"}}}
            content.update(html_page if endpoint.status == 200 else {})
            refused = {**error, "content": {**envelope_error, **html_page}}
        ok = STATUS_DESCRIPTIONS[endpoint.status]
        responses: dict[str, Any] = {str(endpoint.status): {"description": ok, "content": content}, "4XX": refused}
        if endpoint.upstream:
            responses["502"] = {**error, "description": "the database or the LLM failed or could not be reached"}
            responses["504"] = {**error, "description": "a SQL statement passed its time limit"}
        operation: dict[str, Any] = {"summary": endpoint.summary, "responses": responses}
        if endpoint.params:
            operation["parameters"] = [param.document() for param in endpoint.params]
        if endpoint.body is not None:
            body = _schema(endpoint.body, components)
            media = {media_type: {"schema": body} for media_type in endpoint.body_media}
            operation["requestBody"] = {"required": True, "content": media}
        if endpoint.path.startswith("/api/"):
            operation["security"] = [{"bearer": []}]
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "dbgpt-tools", "version": version, "description": "DB-GPT's v2 API, served by dbgpt-tools."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def narrow_enum(document: dict[str, Any], schema_name: str, allowed: list[str]) -> None:
    """Document only the values of an enum that this server accepts (e.g. the chat modes it has)."""
    schema = document["components"]["schemas"][schema_name]
    schema["enum"] = [value for value in schema["enum"] if value in allowed]


def docs_page(document: dict[str, Any]) -> str:
    """A self-contained HTML page listing every operation with its request schema (no CDN needed)."""
    rows = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            ref = body["$ref"].rsplit("/", 1)[-1] if body else ""
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(operation['summary'])}</td><td>{html.escape(ref)}</td></tr>"
            )
    schemas = html.escape(json.dumps(document["components"]["schemas"], indent=2))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>dbgpt-tools API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;text-align:left}"
        "pre{background:#f4f4f4;padding:1em}</style></head><body><h1>dbgpt-tools API</h1>"
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. Every <code>/api</code> route needs "
        "<code>Authorization: Bearer &lt;key&gt;</code> (or the web UI's login cookie, from <a href='/login'>/login"
        "</a>). MCP (streamable HTTP) is at <code>/mcp</code>.</p>"
        "<table><tr><th>Method</th><th>Path</th><th>Summary</th><th>Body</th></tr>" + "".join(rows) + "</table>"
        f"<h2>Schemas</h2><pre>{schemas}</pre></body></html>"
    )


def docs_routes(document: dict[str, Any]) -> tuple[Any, Any]:
    """The `/openapi.json` and `/docs` endpoint functions for `document`."""
    page = docs_page(document)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def docs(request: Request) -> Response:
        return HTMLResponse(page)

    return openapi, docs
