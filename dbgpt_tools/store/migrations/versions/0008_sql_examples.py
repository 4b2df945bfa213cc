"""Question-SQL examples per datasource.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sql_examples",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("datasource_id", sa.Integer, nullable=False, index=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("sql", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("vector", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sql_examples")
