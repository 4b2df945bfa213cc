"""Messages keep their artifacts (a chat_data answer's rows) as JSON beside the text.

0.1.0 stored an answer's rows as DB-GPT's `<chart-view content="..." />` markup inside the text; each markup is
moved into the new `artifacts` column as a query artifact, and removed from the text. Downgrading renders the
artifacts back into the text.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_MARKUP = re.compile(r'\n*<chart-view content="([^"]*)"\s*/>')
_MESSAGES = sa.table(
    "messages",
    sa.column("id", sa.Integer),
    sa.column("content", sa.Text),
    sa.column("artifacts", sa.JSON(none_as_null=True)),
)


def _artifact(view: dict[str, Any]) -> dict[str, Any]:
    """A 0.1.0 chart-view (rows as records) as a query artifact (columns and rows)."""
    records = view.get("data") or []
    columns = list(dict.fromkeys(key for record in records for key in record))
    rows = [[record.get(column) for column in columns] for record in records]
    result = {
        "columns": columns,
        "rows": rows,
        "row_count": len(rows),
        "truncated": False,
        "limit_applied": len(rows),
        "elapsed_ms": 0.0,
        "sql": view.get("sql", ""),
    }
    return {"kind": "query", "result": result, "chart_type": view.get("type", ""), "describe": view.get("describe", "")}


def upgrade() -> None:
    op.add_column("messages", sa.Column("artifacts", sa.JSON(none_as_null=True), nullable=True))
    bind = op.get_bind()
    marked = sa.select(_MESSAGES.c.id, _MESSAGES.c.content).where(_MESSAGES.c.content.contains("<chart-view content="))
    for message_id, content in bind.execute(marked).all():
        views = [json.loads(html.unescape(payload)) for payload in _MARKUP.findall(content)]
        bind.execute(
            _MESSAGES.update()
            .where(_MESSAGES.c.id == message_id)
            .values(content=_MARKUP.sub("", content), artifacts=[_artifact(view) for view in views])
        )


def _markup(artifact: dict[str, Any]) -> str:
    result = artifact["result"]
    records = [dict(zip(result["columns"], row, strict=True)) for row in result["rows"]]
    view = {
        "type": artifact["chart_type"],
        "sql": result["sql"],
        "title": "",
        "describe": artifact["describe"],
        "data": records,
    }
    return f'\n\n<chart-view content="{html.escape(json.dumps(view, ensure_ascii=False), quote=True)}" />'


def downgrade() -> None:
    bind = op.get_bind()
    with_artifacts = sa.select(_MESSAGES.c.id, _MESSAGES.c.content, _MESSAGES.c.artifacts).where(
        _MESSAGES.c.artifacts.is_not(None)
    )
    for message_id, content, artifacts in bind.execute(with_artifacts).all():
        rendered = "".join(_markup(artifact) for artifact in artifacts or [])
        bind.execute(_MESSAGES.update().where(_MESSAGES.c.id == message_id).values(content=content + rendered))
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("artifacts")
