"""Knowledge spaces and their documents.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "knowledge_spaces",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("vector_type", sa.String(32), nullable=False),
        sa.Column("desc", sa.Text, nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("context", sa.Text, nullable=True),
        sa.Column("keyword_generation", sa.Integer, nullable=False),
        sa.Column("vector_store", sa.Text, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
    )
    op.create_index("ix_knowledge_spaces_name_lower", "knowledge_spaces", [sa.text("lower(name)")], unique=True)
    op.create_table(
        "knowledge_documents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("space_id", sa.Integer, sa.ForeignKey("knowledge_spaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("doc_name", sa.String(256), nullable=False),
        sa.Column("doc_type", sa.String(16), nullable=False),
        sa.Column("doc_source", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("file_name", sa.String(256), nullable=True),
        sa.Column("file_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("chunk_count", sa.Integer, nullable=False),
        sa.Column("chunks_done", sa.Integer, nullable=False),
        sa.Column("chunks_total", sa.Integer, nullable=False),
        sa.Column("chunk_parameters", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("live_generation", sa.Integer, nullable=True),
        sa.Column("heartbeat_at", _WHEN, nullable=True),
        sa.Column("last_sync", _WHEN, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
    )
    op.create_index("ix_knowledge_documents_space_id", "knowledge_documents", ["space_id"])
    op.create_index(
        "ix_knowledge_documents_live",
        "knowledge_documents",
        ["space_id", "live_generation", "id", "doc_name", "file_type"],
    )


def downgrade() -> None:
    op.drop_table("knowledge_documents")
    op.drop_table("knowledge_spaces")
