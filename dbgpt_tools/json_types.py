"""How requests' JSON is read. Integer fields read JSON numbers as JSON Schema does, so that a request's documented
schema and its validation agree: `3` and `3.0` are integers, `true` and `"3"` are not (the bounds come before the
conversion in each `Annotated`, so pydantic documents them as `minimum`/`maximum`). And `null` means "not given":
DB-GPT's client sends every optional field, `null` when unset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, Strict


def _whole_number(value: Any) -> Any:
    """A float without a fraction (JSON's `3.0`) as the integer it is; anything else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WHOLE_NUMBER = BeforeValidator(_whole_number)


def drop_nulls(data: Any) -> Any:
    """A JSON object without its `null` members (a model's "before" validator: `null` means "not given")."""
    if not isinstance(data, Mapping):
        return data
    return {key: value for key, value in data.items() if value is not None}


def null_means_absent(schema: dict[str, Any]) -> None:
    """A model's JSON schema saying what `drop_nulls` does: every optional property also accepts `null`."""
    _also_accept(schema, {"type": "null"})


def blank_means_absent(schema: dict[str, Any]) -> None:
    """A model's JSON schema saying what `drop_blanks` does: every optional property also accepts `null` and ""."""
    _also_accept(schema, {"type": "null"})
    _also_accept(schema, {"const": ""})


def _also_accept(schema: dict[str, Any], other: dict[str, Any]) -> None:
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if name in required or other in prop.get("anyOf", ()):
            continue
        documented = {key: prop.pop(key) for key in ("title", "description", "default") if key in prop}
        schema["properties"][name] = {"anyOf": [*prop.get("anyOf", [prop]), other], **documented}


def drop_blanks(data: Any) -> Any:
    """A JSON object without its `null` and empty-string members (what a form sends for unset fields)."""
    if not isinstance(data, Mapping):
        return data
    return {key: value for key, value in data.items() if value is not None and value != ""}


MAX_ID = 2**63 - 1

DatasourceId = Annotated[int, Strict(), Field(ge=1, le=MAX_ID), WHOLE_NUMBER]
Port = Annotated[int, Strict(), Field(ge=0, le=65535), WHOLE_NUMBER]
TokenCap = Annotated[int, Strict(), Field(ge=1, le=1_000_000), WHOLE_NUMBER]
SchemaBudget = Annotated[int, Strict(), Field(ge=100, le=100_000), WHOLE_NUMBER]
RowLimit = Annotated[int, Strict(), Field(ge=1, le=10**9), WHOLE_NUMBER]
