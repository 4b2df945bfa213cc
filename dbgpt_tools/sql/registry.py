"""The datasource registry: DB-GPT's datasource CRUD in the metadata store (passwords stored, never returned).

Rules that hold for every face: names are unique whatever their case and never all digits, so a reference to a
datasource is an id when it is a number and a name otherwise; a stored password only ever goes to the destination
it was stored for (changing the type, host, port, user or database needs the password again).
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dbgpt_tools.errors import Conflict, InvalidInput, NotFound, validated
from dbgpt_tools.json_types import MAX_ID
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.datasource_models import MASK, Datasource, DatasourceIn, DatasourceUpdate
from dbgpt_tools.sql.engine_cache import EngineCache
from dbgpt_tools.sql.engine_config import DEFAULT_PORTS, FILE_TYPES
from dbgpt_tools.sql.locations import connect_address, database_file
from dbgpt_tools.store.lookup import as_id, find, refuse_taken_name
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import DatasourceRow, SqlExampleRow

log = logging.getLogger(__name__)

DESTINATION = ("db_type", "db_host", "db_port", "db_user", "db_name")
"""The fields that say where a password is sent."""


class DatasourceRegistry:
    """Create, update, delete, get and list datasources; `resolve` gives the stored row to the core."""

    def __init__(self, settings: Settings, store: MetadataStore, engines: EngineCache) -> None:
        self._settings = settings
        self._store = store
        self._engines = engines
        self._listeners: list[Callable[[DatasourceRow], None]] = []

    def add_listener(self, listener: Callable[[DatasourceRow], None]) -> None:
        """Call `listener` with each datasource registered or changed, after it is stored (in the caller's thread)."""
        self._listeners.append(listener)

    def _saved(self, row: DatasourceRow) -> None:
        for listener in self._listeners:
            try:
                listener(row)
            except Exception:  # a listener's failure does not undo the save
                log.warning("a datasource listener failed", exc_info=True)

    def create(self, data: DatasourceIn | Mapping[str, Any]) -> Datasource:
        """Register a datasource. Duplicate `db_name` (whatever its case): Conflict."""
        request = self.check(data)
        row = DatasourceRow(**request.model_dump(exclude={"id"}))
        try:
            with self._store.session() as session:
                _refuse_taken_name(session, request.db_name, None)
                session.add(row)
                session.flush()
        except IntegrityError:
            raise _name_taken(request.db_name) from None
        log.info("datasource %s (%s) created, id %s", row.db_name, row.db_type, row.id)
        self._saved(row)
        return Datasource.from_row(row)

    def update(self, data: DatasourceIn | Mapping[str, Any]) -> Datasource:
        """Replace a datasource's fields (`id` required). An empty or masked `db_pwd` keeps the stored password, but
        only for the same destination: with a new type, host, port, user or database the password must be sent."""
        request = self.check(data if isinstance(data, DatasourceIn) else validated(DatasourceUpdate, data))
        if request.id is None:
            raise InvalidInput("id is required to update a datasource", field="id")
        try:
            with self._store.session() as session:
                row = _stored(session, request.id)
                _refuse_taken_name(session, request.db_name, row.id)
                keeps_password = not request.db_pwd or request.db_pwd == MASK
                if keeps_password and row.db_pwd and not same_destination(row, request):
                    raise _password_needed()
                for name, value in request.model_dump(exclude={"id", "db_pwd"}).items():
                    setattr(row, name, value)
                if not keeps_password:
                    row.db_pwd = request.db_pwd
                session.flush()
        except IntegrityError:
            raise _name_taken(request.db_name) from None
        log.info("datasource %s (id %s) updated", row.db_name, row.id)
        self._saved(row)
        return Datasource.from_row(row)

    def delete(self, id: int | str) -> Datasource:
        """Remove a datasource with its question-SQL examples, and close its connections (the database itself is
        untouched)."""
        key = as_id(id)
        with self._store.session() as session:
            row = _stored(session, key)
            session.execute(delete(SqlExampleRow).where(SqlExampleRow.datasource_id == key))
            session.delete(row)
        self._engines.drop(key)
        log.info("datasource %s (id %s) deleted", row.db_name, key)
        return Datasource.from_row(row)

    def get(self, id: int | str) -> Datasource:
        """The datasource with this id (a numeric string is accepted)."""
        with self._store.session() as session:
            return Datasource.from_row(_stored(session, as_id(id)))

    def list(self) -> builtins.list[Datasource]:
        """Every datasource, by id."""
        with self._store.session() as session:
            rows = session.scalars(select(DatasourceRow).order_by(DatasourceRow.id)).all()
            return [Datasource.from_row(row) for row in rows]

    def resolve(self, name_or_id: str | int) -> DatasourceRow:
        """The stored row (password included: core use only) for an id (an int or ASCII digits) or a name (any
        case)."""
        with self._store.session() as session:
            row = find(session, DatasourceRow, DatasourceRow.db_name, name_or_id)
            if row is None:
                raise NotFound(f"no datasource {name_or_id!r}", field="db_name")
            session.expunge(row)
            return row

    def stored_password(self, id: int, destination: DatasourceIn) -> str:
        """The password stored for datasource `id`, when `destination` is where it was stored for ("" otherwise, or
        when there is none)."""
        with self._store.session() as session:
            row = session.get(DatasourceRow, id) if 1 <= id <= MAX_ID else None
            if row is None or not row.db_pwd:
                return ""
            if not same_destination(row, destination):
                raise _password_needed()
            return row.db_pwd

    def check(self, data: DatasourceIn | Mapping[str, Any]) -> DatasourceIn:
        """A datasource request validated: a confined file, or a host on the allowed networks."""
        request = data if isinstance(data, DatasourceIn) else validated(DatasourceIn, data)
        if request.db_type in FILE_TYPES:
            database_file(self._settings, request.db_path, request.read_only)
        else:
            connect_address(self._settings, request.db_host, request.db_port)
        return request


def same_destination(row: DatasourceRow, request: DatasourceIn) -> bool:
    """Whether `request` sends its password where `row`'s was stored for (port 0 is the type's default port)."""
    return all(_destination(row, name) == _destination(request, name) for name in DESTINATION)


def _destination(source: DatasourceRow | DatasourceIn, name: str) -> object:
    value = getattr(source, name)
    if name == "db_port":
        return value or DEFAULT_PORTS.get(source.db_type, 0)
    return value


def _password_needed() -> InvalidInput:
    fields = ", ".join(DESTINATION)
    return InvalidInput(
        f"send db_pwd again: a stored password only goes to the destination it was stored for ({fields})",
        field="db_pwd",
    )


def _refuse_taken_name(session: Session, name: str, own_id: int | None) -> None:
    refuse_taken_name(session, DatasourceRow.id, DatasourceRow.db_name, name, own_id, _name_taken(name))


def _name_taken(name: str) -> Conflict:
    return Conflict(f"datasource {name!r} already exists (names are compared whatever their case)", field="db_name")


def _stored(session: Session, key: int) -> DatasourceRow:
    """The row with this id (NotFound otherwise)."""
    row = session.get(DatasourceRow, key) if 1 <= key <= MAX_ID else None
    if row is None:
        raise NotFound(f"no datasource with id {key}", field="id")
    return row
