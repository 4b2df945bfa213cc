"""The metadata store: SQLAlchemy engine and sessions over any URL (SQLite file by default), migrated on open.

The schema is brought to the newest revision by the Alembic migrations beside this module. `upgrade` runs at every
start (and as `dbgpt-tools db upgrade`): it does nothing when the store is current, adopts a store made by 0.1.0
(tables but no revision) as revision 0001, and holds a lock while it migrates so that several workers starting at
once migrate once (SQLite: a lock file beside the database; PostgreSQL: an advisory lock; other databases: run
`dbgpt-tools db upgrade` before starting several workers).
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
RELEASED_0_1_0 = "0001"
_PG_LOCK_KEY = 0x6462677074  # "dbgpt": one advisory lock for every worker's migrations


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    """The newest revision the migrations know."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the versions folder is never empty
    return head


def current_revision(engine: Engine) -> str | None:
    """The store's revision (None for an empty store, or one made by 0.1.0 before migrations existed)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate the store to `revision` (default: the newest) and return the revision it is at."""
    if revision == "head" and current_revision(engine) == head_revision():
        return head_revision()
    with _migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        config = _config(connection)
        context = MigrationContext.configure(connection)
        before = context.get_current_revision()
        if before is None and inspect(connection).has_table("datasources"):
            command.stamp(config, RELEASED_0_1_0)  # a 0.1.0 store: its tables are revision 0001
            before = RELEASED_0_1_0
        command.upgrade(config, revision)
        after = MigrationContext.configure(connection).get_current_revision()
    if after != before:
        log.info("metadata store migrated from revision %s to %s", before or "(empty)", after)
    return str(after)


def downgrade(engine: Engine, revision: str) -> str:
    """Migrate the store back to `revision` (for operators undoing an upgrade)."""
    with _migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        command.downgrade(_config(connection), revision)
        return str(MigrationContext.configure(connection).get_current_revision())


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """For a SQLite file, an exclusive lock on a file beside it (other databases lock inside the transaction)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    with Path(f"{database}.migrate.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# --- The store ----------------------------------------------------------------------------------------------


def _configure_sqlite(engine: Engine) -> None:
    """WAL and a busy timeout, so several server processes can share one SQLite file."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: safe against crashes, no fsync per commit
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


class MetadataStore:
    """Owns the engine and hands out sessions; migrates the store to the newest schema when it opens it."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url, pool_pre_ping=True)
        if parsed.get_backend_name() == "sqlite":
            _configure_sqlite(self.engine)
        self.revision = upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
