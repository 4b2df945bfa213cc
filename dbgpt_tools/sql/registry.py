"""The datasource registry: DB-GPT's datasource CRUD in the metadata store (passwords stored, never returned)."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dbgpt_tools.errors import Conflict, InvalidInput, NotFound, validated
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.datasource_models import MASK, Datasource, DatasourceIn
from dbgpt_tools.sql.engine_cache import EngineCache
from dbgpt_tools.sql.engine_config import FILE_TYPES, database_file
from dbgpt_tools.sql.safety import SUPPORTED_DIALECTS
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import DatasourceRow

log = logging.getLogger(__name__)


class DatasourceRegistry:
    """Create, update, delete, get and list datasources; `resolve` gives the stored row to the core."""

    def __init__(self, settings: Settings, store: MetadataStore, engines: EngineCache) -> None:
        self._settings = settings
        self._store = store
        self._engines = engines

    def create(self, data: DatasourceIn | Mapping[str, Any]) -> Datasource:
        """Register a datasource. Duplicate `db_name`: Conflict."""
        request = self.check(data)
        row = DatasourceRow(**request.model_dump(exclude={"id"}))
        try:
            with self._store.session() as session:
                session.add(row)
                session.flush()
        except IntegrityError:
            raise Conflict(f"datasource {request.db_name!r} already exists", field="db_name") from None
        log.info("datasource %s (%s) created, id %s", row.db_name, row.db_type, row.id)
        return Datasource.from_row(row)

    def update(self, data: DatasourceIn | Mapping[str, Any]) -> Datasource:
        """Replace a datasource's fields (`id` required); an empty or masked `db_pwd` keeps the stored one."""
        request = self.check(data)
        if request.id is None:
            raise InvalidInput("id is required to update a datasource", field="id")
        try:
            with self._store.session() as session:
                row = _stored(session, request.id)
                for name, value in request.model_dump(exclude={"id", "db_pwd"}).items():
                    setattr(row, name, value)
                if request.db_pwd and request.db_pwd != MASK:
                    row.db_pwd = request.db_pwd
                session.flush()
        except IntegrityError:
            raise Conflict(f"datasource {request.db_name!r} already exists", field="db_name") from None
        log.info("datasource %s (id %s) updated", row.db_name, row.id)
        return Datasource.from_row(row)

    def delete(self, id: int | str) -> Datasource:
        """Remove a datasource and close its connections (the database itself is untouched)."""
        key = _as_id(id)
        with self._store.session() as session:
            row = _stored(session, key)
            session.delete(row)
        self._engines.drop(key)
        log.info("datasource %s (id %s) deleted", row.db_name, key)
        return Datasource.from_row(row)

    def get(self, id: int | str) -> Datasource:
        """The datasource with this id (a numeric string is accepted)."""
        with self._store.session() as session:
            return Datasource.from_row(_stored(session, _as_id(id)))

    def list(self) -> builtins.list[Datasource]:
        """Every datasource, by id."""
        with self._store.session() as session:
            rows = session.scalars(select(DatasourceRow).order_by(DatasourceRow.id)).all()
            return [Datasource.from_row(row) for row in rows]

    def resolve(self, name_or_id: str | int) -> DatasourceRow:
        """The stored row (password included: core use only) for a name, an id or a numeric-string id."""
        with self._store.session() as session:
            row = None
            if isinstance(name_or_id, str):
                row = session.scalar(select(DatasourceRow).where(DatasourceRow.db_name == name_or_id))
            if row is None and (isinstance(name_or_id, int) or name_or_id.strip().isdigit()):
                row = session.get(DatasourceRow, int(name_or_id))
            if row is None:
                raise NotFound(f"no datasource {name_or_id!r}", field="db_name")
            session.expunge(row)
            return row

    def stored_password(self, id: int) -> str:
        """The password stored for datasource `id` ("" when none, or no such datasource)."""
        with self._store.session() as session:
            row = session.get(DatasourceRow, id)
            return row.db_pwd if row is not None else ""

    def check(self, data: DatasourceIn | Mapping[str, Any]) -> DatasourceIn:
        """A datasource request validated: a supported type, a confined file or a host; `db_type` lower-cased."""
        request = data if isinstance(data, DatasourceIn) else validated(DatasourceIn, data)
        db_type = request.db_type.lower()
        if db_type not in SUPPORTED_DIALECTS:
            supported = ", ".join(SUPPORTED_DIALECTS)
            raise InvalidInput(f"unsupported db_type {request.db_type!r}; supported: {supported}", field="db_type")
        if db_type in FILE_TYPES:
            database_file(self._settings, request.db_path, request.read_only)
        elif not request.db_host:
            raise InvalidInput(f"db_host is required for a {db_type} datasource", field="db_host")
        return request.model_copy(update={"db_type": db_type})


def _stored(session: Session, key: int) -> DatasourceRow:
    """The row with this id (NotFound otherwise)."""
    row = session.get(DatasourceRow, key)
    if row is None:
        raise NotFound(f"no datasource with id {key}", field="id")
    return row


def _as_id(value: int | str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"datasource id must be an integer, got {value!r}", field="id") from None
