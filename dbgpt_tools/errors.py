"""The error hierarchy every face maps to its own form (HTTP status, MCP tool error, notebook message)."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class DbgptError(Exception):
    """A refusal or failure that is safe to show to the caller.

    `status` is the HTTP status a REST face answers with; `code` is DB-GPT's `err_code`.
    """

    status: int = 400
    code: str = "E0003"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        if field and field not in message:
            message = f"{field}: {message}"  # every face shows which field was refused
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DbgptError):
    """A request field is missing or has a bad value."""

    code = "E0001"


class NotFound(DbgptError):
    """The named object does not exist."""

    status = 404


class Conflict(DbgptError):
    """The object already exists or is in a state that forbids the change."""

    status = 409


class Forbidden(DbgptError):
    """The request is understood but refused (for example a write on a read-only datasource)."""

    status = 403


class Unauthorized(DbgptError):
    """Missing or wrong API key."""

    status = 401
    code = "401"


class Busy(DbgptError):
    """Too many requests are waiting for a shared resource; retry later."""

    status = 429

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Upstream(DbgptError):
    """A backend this service depends on (the LLM endpoint, a database server) failed or timed out."""

    status = 502


class InternalError(DbgptError):
    """A failure of our own (a bug); the details are in the server log, never in the answer."""

    status = 500
    code = "E0500"


_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def invalid_input(error: ValidationError) -> InvalidInput:
    """Pydantic's validation errors as one `InvalidInput` naming every bad field (the first as `field`); the names
    pydantic gives the branches of a union (`constrained-str`, `list[...]`) are left out of the field path."""
    problems: list[tuple[str, str]] = []
    for e in error.errors():
        path = ".".join(str(part) for part in e["loc"] if isinstance(part, int) or _FIELD.match(str(part)))
        if (path, e["msg"]) not in problems:
            problems.append((path, e["msg"]))
    message = "; ".join(f"{field}: {msg}" if field else msg for field, msg in problems)
    return InvalidInput(message, field=problems[0][0] or None)  # a ValidationError holds at least one error


def validated(model: type[M], data: Any) -> M:
    """`data` validated as `model`; a failure is one `InvalidInput` naming the bad fields. Text that is not valid
    Unicode (a lone surrogate, which JSON can spell) is refused before it reaches a store or a model."""
    try:
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("text must be valid Unicode: a lone surrogate (\\ud800-\\udfff) was sent") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_input(error) from None
    except RecursionError:
        raise InvalidInput("the input is nested too deeply") from None
