"""DB-GPT's result envelope and the mapping of every failure to a JSON body with a 4xx/5xx status."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dbgpt_tools.errors import Busy, DbgptError, Unauthorized

log = logging.getLogger("dbgpt_tools.server")


def _envelope_json(data: Any, extra: dict[str, Any] | None = None) -> bytes:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in data]
    body = {"success": True, "err_code": None, "err_msg": None, "data": data, **(extra or {})}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def envelope(data: Any, *, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    """A successful `/api/v2/serve` answer: `{"success": true, "err_code": null, "err_msg": null, "data": ...}`
    (and `extra` keys beside `data`, which DB-GPT's client ignores), rendered in a worker thread (tens of megabytes
    of rows must not hold the event loop)."""
    body = await asyncio.to_thread(_envelope_json, data, extra)
    return Response(body, status_code=status, media_type="application/json")


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A failed answer in the envelope DB-GPT's client unwraps."""
    body = {"success": False, "err_code": code, "err_msg": message, "data": None}
    return JSONResponse(body, status_code=status, headers=headers)


def error_headers(exc: DbgptError) -> dict[str, str] | None:
    """The headers a refusal comes with: 429 `Retry-After`, 401 `WWW-Authenticate`."""
    if isinstance(exc, Busy):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    return None


def dbgpt_error_response(exc: DbgptError) -> JSONResponse:
    """Our error hierarchy as an envelope, with its `error_headers`."""
    return error_response(exc.status, exc.code, exc.message, error_headers(exc))


async def on_dbgpt_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DbgptError)
    return dbgpt_error_response(exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "E0003" if exc.status_code not in (401, 404) else str(exc.status_code)
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


async def on_unexpected_error(request: Request, exc: Exception) -> Response:
    """A bug: logged with its traceback on the server, a generic message to the caller."""
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "E0500", "internal server error")


EXCEPTION_HANDLERS = {DbgptError: on_dbgpt_error, HTTPException: on_http_error, Exception: on_unexpected_error}
