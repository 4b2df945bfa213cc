"""Flows: declarative pipelines (DB-GPT's AWEL flows).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("uid", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("label", sa.String(256), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("flow_category", sa.String(32), nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("source_url", sa.String(256), nullable=True),
        sa.Column("user_name", sa.String(256), nullable=True),
        sa.Column("sys_code", sa.String(256), nullable=True),
        sa.Column("flow_data", sa.JSON, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("flows")
