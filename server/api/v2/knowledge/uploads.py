"""Reading a request that creates a document: its fields from the query string, then a form or a JSON object
(empty fields count as absent), and its uploaded file (`doc_file`)."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from dbgpt_tools.errors import InvalidInput
from server.requests import capped, json_object

_FORM_FIELDS = 16
_FORM_OVERHEAD = 1024 * 1024


async def document_fields(request: Request, max_bytes: int) -> tuple[dict[str, Any], UploadFile | None]:
    """The create route's fields (query parameters, then form fields or a JSON object) and its upload."""
    fields: dict[str, Any] = {key: value for key, value in request.query_params.items() if value != ""}
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        fields.update({key: value for key, value in (await json_object(request)).items() if value not in ("", None)})
        return _parsed(fields), None
    if media not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return _parsed(fields), None
    limited = capped(request, max_bytes + _FORM_OVERHEAD)  # the form's other fields and boundaries fit in the rest
    form = await limited.form(max_files=1, max_fields=_FORM_FIELDS, max_part_size=max_bytes)
    upload = None
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key != "doc_file":
                raise InvalidInput(f"unexpected file field {key[:40]!r}: send the file as doc_file", field=key)
            upload = value
        elif value != "":
            fields[key] = value
    return _parsed(fields), upload


def _parsed(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields with `chunk_parameters` read as JSON when it came as text (a form field, a query parameter)."""
    raw = fields.get("chunk_parameters")
    if isinstance(raw, str):
        try:
            fields["chunk_parameters"] = json.loads(raw) if raw.strip() else None
        except ValueError:
            raise InvalidInput("chunk_parameters must be JSON", field="chunk_parameters") from None
    return fields
