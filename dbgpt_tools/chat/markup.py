"""Artifacts as the text DB-GPT's clients read: `<chart-view content="..." />` markup for rows and
`<references title="References" references="..." />` for a chat_knowledge answer's sources, or plain text when a
request turns the markup off (`enable_vis: false`). Only the REST face renders them; the other faces take the
typed artifacts.

The attribute is HTML-escaped JSON (`html.escape(json.dumps(...), quote=True)`) in streamed and whole answers
alike, as DB-GPT's stream sends it, so one parser reads both.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from pydantic import BaseModel

from dbgpt_tools.chat.models import Artifact, QueryArtifact, ReferencesArtifact
from dbgpt_tools.sql.results import QueryResult, json_rows

_MARKUP = re.compile(r'<chart-view content="[^"]*"\s*/>|<references title="[^"]*" references="[^"]*"\s*/>')
_PREVIEW_ROWS = 20


class ChartView(BaseModel):
    """What one chart-view carries: the chart type, the SQL, and the rows as records."""

    type: str
    sql: str
    title: str = ""
    describe: str = ""
    data: list[dict[str, Any]]


def chart_view(artifact: QueryArtifact) -> ChartView:
    """The chart-view of a query artifact (records keyed by column name, values as JSON values)."""
    result = artifact.result
    records = [dict(zip(result.columns, row, strict=True)) for row in json_rows(result.rows)]
    return ChartView(type=artifact.chart_type, sql=result.sql, describe=artifact.describe, data=records)


def render_chart_view(view: ChartView) -> str:
    """The markup, with the JSON attribute HTML-escaped as DB-GPT's stream sends it."""
    payload = json.dumps(view.model_dump(), ensure_ascii=False, default=str)
    return f'<chart-view content="{html.escape(payload, quote=True)}" />'


def plain_table(result: QueryResult) -> str:
    """The first rows as a plain-text table, for answers without markup."""
    lines = [" | ".join(result.columns), " | ".join("---" for _ in result.columns)]
    lines += [" | ".join(str(v) for v in row) for row in result.rows[:_PREVIEW_ROWS]]
    more = result.row_count - _PREVIEW_ROWS
    if more > 0:
        lines.append(f"... {more} more rows")
    return "\n".join(lines)


def render_references(artifact: ReferencesArtifact) -> str:
    """DB-GPT's references markup: the sources grouped by document, each chunk with its id, text, position and
    recall score; the attribute HTML-escaped JSON."""
    by_document: dict[str, list[dict[str, Any]]] = {}
    for chunk in artifact.chunks:
        meta = {"doc_id": chunk.doc_id, "index": chunk.index, "page": chunk.page, "headers": chunk.headers}
        by_document.setdefault(chunk.doc_name, []).append(
            {
                "id": chunk.chunk_id,
                "content": chunk.content,
                "meta_info": json.dumps(meta, ensure_ascii=False),
                "recall_score": chunk.score,
            }
        )
    references = [{"name": name, "chunks": chunks} for name, chunks in by_document.items()]
    payload = html.escape(json.dumps(references, ensure_ascii=False), quote=True)
    return f'<references title="References" references="{payload}" />'


def plain_references(artifact: ReferencesArtifact) -> str:
    """The sources as a numbered plain-text list, for answers without markup."""
    lines = ["References:"]
    for number, chunk in enumerate(artifact.chunks, start=1):
        where = f", page {chunk.page}" if chunk.page is not None else ""
        section = f", {' > '.join(chunk.headers)}" if chunk.headers else ""
        lines.append(f"[{number}] {chunk.doc_name}{where}{section} (score {chunk.score:.2f})")
    return "\n".join(lines)


def render_artifact(artifact: Artifact, *, markup: bool) -> str:
    """An artifact as the text that follows the answer: DB-GPT's markup, or plain text."""
    if isinstance(artifact, ReferencesArtifact):
        return "\n\n" + (render_references(artifact) if markup else plain_references(artifact))
    if markup:
        return "\n\n" + render_chart_view(chart_view(artifact))
    return "\n\n" + plain_table(artifact.result)


def strip_markup(text: str, placeholder: str = "") -> str:
    """`text` without chart-view markup (a client may send our answers back as history)."""
    return _MARKUP.sub(placeholder, text)
