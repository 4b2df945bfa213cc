"""Apps: saved chat configurations.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "apps",
        sa.Column("app_code", sa.String(64), primary_key=True),
        sa.Column("app_name", sa.String(128), nullable=False, unique=True),
        sa.Column("app_describe", sa.Text, nullable=False),
        sa.Column("team_mode", sa.String(32), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("team_context", sa.Text, nullable=True),
        sa.Column("user_code", sa.String(128), nullable=True),
        sa.Column("sys_code", sa.String(128), nullable=True),
        sa.Column("icon", sa.Text, nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("apps")
