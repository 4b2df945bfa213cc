"""The metadata store as dbgpt-tools 0.1.0 created it: datasources, conversations and their messages.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("conv_uid", sa.String(128), primary_key=True),
        sa.Column("chat_mode", sa.String(32), nullable=False),
        sa.Column("chat_param", sa.String(256)),
        sa.Column("user_name", sa.String(128)),
        sa.Column("sys_code", sa.String(128)),
        *_timestamps(),
    )
    op.create_table(
        "datasources",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("db_name", sa.String(256), nullable=False, unique=True),
        sa.Column("db_type", sa.String(32), nullable=False),
        sa.Column("db_path", sa.Text, nullable=False),
        sa.Column("db_host", sa.String(256), nullable=False),
        sa.Column("db_port", sa.Integer, nullable=False),
        sa.Column("db_user", sa.String(256), nullable=False),
        sa.Column("db_pwd", sa.Text, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("read_only", sa.Boolean, nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "conv_uid",
            sa.String(128),
            sa.ForeignKey("conversations.conv_uid", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("datasources")
    op.drop_table("conversations")
