"""Datasource names are unique whatever their case, and never all digits (a number refers to an id).

A store where two names differed only in case, or a name was all digits, keeps every datasource: the later one of
a clash becomes `<name>_<id>`, a number `<name>` becomes `db_<name>`. A unique index on the lower-cased name then
holds the rule for every worker.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_DATASOURCES = sa.table("datasources", sa.column("id", sa.Integer), sa.column("db_name", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    taken: set[str] = set()
    for datasource_id, name in bind.execute(sa.select(_DATASOURCES.c.id, _DATASOURCES.c.db_name).order_by("id")):
        new = f"db_{name}" if name.isascii() and name.isdigit() else name
        if new.lower() in taken:
            new = f"{new}_{datasource_id}"
        taken.add(new.lower())
        if new != name:
            bind.execute(_DATASOURCES.update().where(_DATASOURCES.c.id == datasource_id).values(db_name=new))
    op.create_index("ix_datasources_db_name_lower", "datasources", [sa.text("lower(db_name)")], unique=True)


def downgrade() -> None:
    op.drop_index("ix_datasources_db_name_lower", table_name="datasources")
