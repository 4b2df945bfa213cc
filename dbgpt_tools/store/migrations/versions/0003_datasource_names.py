"""Datasource names are unique whatever their case, and never all digits (a number refers to an id).

A store where two names differed only in case, or a name was all digits, keeps every datasource: the later one of
a clash becomes `<name>_<id>`, a number `<name>` becomes `db_<name>` (or `db_<name>_<id>` when that is
another datasource's name). A unique index on the lower-cased name then holds the rule for every worker.

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

_NAME_LENGTH = 256
_DATASOURCES = sa.table("datasources", sa.column("id", sa.Integer), sa.column("db_name", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    rows = list(bind.execute(sa.select(_DATASOURCES.c.id, _DATASOURCES.c.db_name).order_by("id")))
    existing = {name.lower() for _, name in rows}
    taken: set[str] = set()
    for datasource_id, name in rows:
        new = f"db_{name}" if name.isascii() and name.isdigit() else name
        if new.lower() in taken or (new != name and new.lower() in existing):
            new = _free_name(new, datasource_id, taken | existing)
        taken.add(new.lower())
        if new != name:
            bind.execute(_DATASOURCES.update().where(_DATASOURCES.c.id == datasource_id).values(db_name=new))
    op.create_index("ix_datasources_db_name_lower", "datasources", [sa.text("lower(db_name)")], unique=True)


def _free_name(name: str, datasource_id: int, used: set[str]) -> str:
    """`<name>_<id>` (then `_<id>_2`, `_<id>_3`, ...) that no datasource has, within the column's 256 characters."""
    number = 1
    while True:
        suffix = f"_{datasource_id}" + (f"_{number}" if number > 1 else "")
        candidate = name[: _NAME_LENGTH - len(suffix)] + suffix
        if candidate.lower() not in used:
            return candidate
        number += 1


def downgrade() -> None:
    op.drop_index("ix_datasources_db_name_lower", table_name="datasources")
