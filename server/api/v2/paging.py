"""Paging through a v2 list: the `page` and `page_size` query parameters, read strictly."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from dbgpt_tools.errors import InvalidInput
from server.openapi import Param

PAGE = Param("page", "query", {"type": "integer", "minimum": 1, "maximum": 999_999_999}, "Page number (from 1).")
PAGE_SIZE = Param("page_size", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, "Items per page.")


def page_params(request: Request, *extra: str) -> dict[str, Any]:
    """`page`, `page_size` (and `extra` names) from the query string: integers, each at most once."""
    values: dict[str, Any] = {}
    for name in request.query_params:
        if name not in ("page", "page_size", *extra):
            raise InvalidInput(f"unknown query parameter {name[:40]!r}", field=name)
        if len(request.query_params.getlist(name)) > 1:
            raise InvalidInput(f"{name} must be given at most once", field=name)
        raw = request.query_params[name]
        if name in ("page", "page_size"):
            if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
                raise InvalidInput(f"{name} must be a positive integer, got {raw[:40]!r}", field=name)
            values[name] = int(raw)
        else:
            values[name] = raw
    return values
