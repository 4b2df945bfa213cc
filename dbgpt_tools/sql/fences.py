"""SQL in an LLM's answer: the code fences around it, a leading `SQL:` label, invisible characters and final
semicolons. The one place that knows how a model wraps SQL (the safety check and chat_data both use it)."""

from __future__ import annotations

import re

# A fence's language tag is a known SQL name, or any word alone on the fence's line.
_FENCE = re.compile(
    r"```(?:(?:sql|sqlite|postgres(?:ql)?|pgsql|psql|mysql|duckdb)\b|[\w+-]*(?=[ \t]*\n))?[ \t]*\n?(.*?)(?:```|\Z)",
    re.I | re.S,
)
_LABEL = re.compile(r"^sql\s*:\s*", re.I)
_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"


def fenced_blocks(text: str) -> list[str]:
    """The non-empty code blocks of `text`, cleaned (an unclosed last fence runs to the end)."""
    blocks = (strip_sql(block) for block in _FENCE.findall(text))
    return [block for block in blocks if block]


def outside_fences(text: str) -> str:
    """`text` without its code blocks (what a model said around its SQL)."""
    return _FENCE.sub("", text).strip()


def strip_sql(text: str) -> str:
    """`text` without surrounding whitespace and invisible characters, a leading 'SQL:' label and final semicolons."""
    text = _LABEL.sub("", text.strip().strip(_INVISIBLE).strip()).strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def clean_sql(text: str) -> str:
    """The SQL in an LLM's answer, fences and label removed. Several fenced blocks are kept, separated by
    semicolons, so that the one-statement rule sees them all."""
    if "```" in text:
        text = ";\n".join(fenced_blocks(text))
    return strip_sql(text)
