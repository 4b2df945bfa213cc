"""Reading DB-GPT's chart-view and references markup back out of REST answers, as its clients do (tests only)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

_MARKUP = re.compile(r'<chart-view content="([^"]*)"\s*/>')
_REFERENCES = re.compile(r'<references title="References" references="([^"]*)"\s*/>')


def chart_views(text: str) -> list[dict[str, Any]]:
    """Every chart-view's JSON payload in an answer's text (the attribute is HTML-escaped JSON)."""
    return [json.loads(html.unescape(match)) for match in _MARKUP.findall(text)]


def without_chart_views(text: str) -> str:
    """The answer's text without its chart-view markup."""
    return _MARKUP.sub("", text)


def references(text: str) -> list[list[dict[str, Any]]]:
    """Every references markup's JSON list in an answer's text (the attribute is HTML-escaped JSON)."""
    return [json.loads(html.unescape(match)) for match in _REFERENCES.findall(text)]
