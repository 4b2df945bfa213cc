"""Alembic's environment: migrations run on the connection `dbgpt_tools.store.metadata` hands over."""

from __future__ import annotations

from alembic import context

from dbgpt_tools.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `dbgpt-tools db upgrade` (dbgpt_tools.store.metadata), not the alembic CLI")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
