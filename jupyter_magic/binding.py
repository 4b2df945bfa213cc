"""`{name}` placeholders in a `%%dbgpt --sql` cell, bound as SQL parameters: values never enter the SQL text.

The rules (those of `str.format`, except that values go to the database driver):

- `{name}`, where `name` is a Python identifier defined in the notebook, becomes the bound parameter `:name`.
  Its value must be data: str, int, float, Decimal, bool, None, date, datetime or time (numpy scalars are
  unwrapped). So `{city}` holding `"x' OR '1'='1"` is compared as that very string.
- A list or tuple of such values becomes `(:name_0, :name_1, ...)`, for `WHERE id IN {ids}`; it must not be empty.
- `{{` and `}}` are literal braces. Any other brace, and `{name!r}`, `{name:fmt}`, `{a.b}`, `{a[0]}`, is refused.
- A placeholder inside quotes is refused (`'{city}'` would compare with the text ':city'): write `{city}`.
  Comments (`-- ...` to the end of the line, `/* ... */`) are left exactly as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal
from typing import Any

from dbgpt_tools.errors import InvalidInput

SCALARS = (str, int, float, Decimal, date, time, type(None))
_QUOTES = "'\"`"
_COMMENTS = {"--": "\n", "/*": "*/"}


def bind_parameters(sql: str, namespace: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The SQL with each `{name}` replaced by a bound parameter, and the parameters' values.

    Raises `InvalidInput` naming every undefined variable, or the placeholder or value that cannot be bound.
    """
    parts: list[str] = []
    params: dict[str, Any] = {}
    sources: dict[str, str] = {}  # bound parameter -> the placeholder it came from
    unknown: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(sql):
        char, pair = sql[i], sql[i : i + 2]
        if quote is None and pair in _COMMENTS:
            end = sql.find(_COMMENTS[pair], i + 2)
            end = len(sql) if end < 0 else end + len(_COMMENTS[pair])
            parts.append(sql[i:end])
            i = end
            continue
        if char in _QUOTES and quote in (None, char):  # a doubled quote ('it''s') leaves and re-enters
            quote = char if quote is None else None
        if pair in ("{{", "}}"):
            parts.append(char)
            i += 2
            continue
        if char == "}":
            raise InvalidInput(f"a single '}}' at position {i}: write '}}}}' for a literal brace")
        if char == "{":
            end = sql.find("}", i)
            name = sql[i + 1 : end] if end >= 0 else ""
            if not name.isidentifier():
                shown = sql[i : end + 1] if end >= 0 else "{"
                raise InvalidInput(
                    f"{shown!r} at position {i} is not a {{name}} placeholder: "
                    "use a variable name only, or write '{{' and '}}' for literal braces"
                )
            if quote is not None:
                raise InvalidInput(
                    f"{{{name}}} is inside quotes: write it without quotes, its value is bound as a parameter"
                )
            if name in namespace:
                parts.append(_bind(name, namespace[name], params, sources))
            elif name not in unknown:
                unknown.append(name)
            i = end + 1
            continue
        parts.append(char)
        i += 1
    if unknown:
        raise InvalidInput(f"undefined variable{'s' if len(unknown) > 1 else ''} in the SQL: {', '.join(unknown)}")
    return "".join(parts), params


def _bind(name: str, value: Any, params: dict[str, Any], sources: dict[str, str]) -> str:
    """Record `value` under `name` (one parameter per item for a list) and return the SQL that refers to it."""
    if isinstance(value, list | tuple):
        if not value:
            raise InvalidInput(f"{{{name}}} is an empty {type(value).__name__}: an IN list needs at least one value")
        keys = [f"{name}_{index}" for index in range(len(value))]
        for key, item in zip(keys, value, strict=True):
            _put(key, _scalar(name, item), name, params, sources)
        return "(" + ", ".join(f":{key}" for key in keys) + ")"
    _put(name, _scalar(name, value), name, params, sources)
    return f":{name}"


def _put(key: str, value: Any, source: str, params: dict[str, Any], sources: dict[str, str]) -> None:
    if sources.setdefault(key, source) != source:
        raise InvalidInput(f"{{{source}}} and {{{sources[key]}}} would both bind :{key}: rename one of them")
    params[key] = value


def _scalar(name: str, value: Any) -> Any:
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # numpy.int64(3) -> 3
        value = value.item()
    if not isinstance(value, SCALARS):
        raise InvalidInput(
            f"{{{name}}} is a {type(value).__name__}: only str, int, float, Decimal, bool, None, "
            "date/datetime/time values, or a list or tuple of them, can be bound"
        )
    return value
