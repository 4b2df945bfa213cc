"""Reading request bodies: JSON objects only, size-capped, with errors that name the problem."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from dbgpt_tools.errors import DbgptError, InvalidInput, validated
from dbgpt_tools.json_types import MAX_ID

MAX_BODY_BYTES = 8 * 1024 * 1024
M = TypeVar("M", bound=BaseModel)


class PayloadTooLarge(DbgptError):
    """The request body is larger than the server accepts."""

    status = 413


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (400 when it is not JSON or not an object, 413 when too large)."""
    data = await json_body(request)
    if not isinstance(data, dict):
        raise InvalidInput("request body must be a JSON object", field="body")
    return data


async def json_body(request: Request, *, allow_empty: bool = False, empty: Any = None) -> Any:
    """The request body as JSON (`empty` for an empty body when `allow_empty`, so a literal `null` stays telling;
    400 when it is not JSON, 413 when too large)."""
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise PayloadTooLarge(f"request body larger than {MAX_BODY_BYTES} bytes")
    except ClientDisconnect:  # gone before its body arrived (or disconnected for being too slow)
        raise InvalidInput("the client disconnected before sending its whole body", field="body") from None
    if not body and allow_empty:
        return empty
    try:
        data = json.loads(body or b"null")
    except RecursionError:
        raise InvalidInput("request body is nested too deeply", field="body") from None
    except ValueError as exc:  # malformed JSON, bad UTF-8, or a number with thousands of digits
        raise InvalidInput(f"request body is not valid JSON: {str(exc)[:200]}", field="body") from None
    return data


def capped(request: Request, limit: int) -> Request:
    """`request` whose body may be at most `limit` bytes: reading past it is a 413 (whatever Content-Length said,
    chunked bodies included)."""
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge(f"request body larger than {limit} bytes")
        return message

    return Request(request.scope, receive)


def path_id(request: Request, name: str) -> int:
    """The integer path parameter `name` (400 naming it when it is not an integer from 1 to 2^63 - 1)."""
    raw: str = request.path_params[name]
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_ID):
        raise InvalidInput(f"{name} must be an integer from 1 to {MAX_ID}, got {raw[:40]!r}", field=name)
    return int(raw)


async def parse_body(request: Request, model: type[M]) -> M:
    """The request body validated as `model` (400 naming the first bad field)."""
    return validated(model, await json_object(request))
