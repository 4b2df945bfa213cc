"""Knowledge spaces in the metadata store: DB-GPT's space CRUD. Names are unique whatever their case and never all
digits, so a reference to a space is an id when it is a number and a name otherwise. Deleting a space removes its
documents, their files, chunks, vectors and keyword index."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dbgpt_tools.errors import Conflict, NotFound, validated
from dbgpt_tools.knowledge.models import Page, Space, SpaceIn, SpaceUpdate
from dbgpt_tools.store.lookup import as_id, check_page, find, refuse_taken_name
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import DocumentRow, SpaceRow

log = logging.getLogger(__name__)


class SpaceRegistry:
    """Create, update, delete, get and list spaces; `resolve` gives the stored row to the core.

    `vector_store` (where this worker keeps vectors) is recorded with each new space; `on_delete` removes what
    lives outside the store (vectors, keyword index, files) once a space is gone.
    """

    def __init__(self, store: MetadataStore, vector_store: str, on_delete: Callable[[int, list[int]], None]) -> None:
        self._store = store
        self._vector_store = vector_store
        self._on_delete = on_delete

    def create(self, data: SpaceIn | Mapping[str, Any]) -> Space:
        """Create a space. A name in use (whatever its case): Conflict."""
        request = data if isinstance(data, SpaceIn) else validated(SpaceIn, data)
        row = SpaceRow(**request.model_dump(), vector_store=self._vector_store)
        try:
            with self._store.session() as session:
                _refuse_taken_name(session, request.name, None)
                session.add(row)
                session.flush()
        except IntegrityError:
            raise _name_taken(request.name) from None
        log.info("knowledge space %s created, id %s", row.name, row.id)
        return Space.from_row(row)

    def update(self, data: SpaceUpdate | Mapping[str, Any]) -> Space:
        """Replace a space's fields (`id` required)."""
        request = data if isinstance(data, SpaceUpdate) else validated(SpaceUpdate, data)
        try:
            with self._store.session() as session:
                row = _stored(session, request.id)
                _refuse_taken_name(session, request.name, row.id)
                for name, value in request.model_dump(exclude={"id"}).items():
                    setattr(row, name, value)
                session.flush()
                count = _document_count(session, row.id)
        except IntegrityError:
            raise _name_taken(request.name) from None
        return Space.from_row(row, count)

    def delete(self, key: int | str) -> Space:
        """Remove a space with its documents, chunks, vectors, keyword index and files."""
        space_id = as_id(key)
        with self._store.session() as session:
            row = _stored(session, space_id)
            documents = list(session.scalars(select(DocumentRow.id).where(DocumentRow.space_id == space_id)))
            session.execute(delete(DocumentRow).where(DocumentRow.space_id == space_id))
            session.delete(row)
        self._on_delete(space_id, documents)
        log.info("knowledge space %s (id %s) deleted with %d documents", row.name, space_id, len(documents))
        return Space.from_row(row, len(documents))

    def get(self, key: int | str) -> Space:
        """The space with this id (a numeric string is accepted)."""
        with self._store.session() as session:
            row = _stored(session, as_id(key))
            return Space.from_row(row, _document_count(session, row.id))

    def page(self, page: int = 1, page_size: int = 20) -> Page[Space]:
        """One page of the spaces, by id."""
        check_page(page, page_size)
        with self._store.session() as session:
            total = session.scalar(select(func.count()).select_from(SpaceRow)) or 0
            rows = session.scalars(
                select(SpaceRow).order_by(SpaceRow.id).offset((page - 1) * page_size).limit(page_size)
            ).all()
            counted = (
                select(DocumentRow.space_id, func.count())
                .where(DocumentRow.space_id.in_([row.id for row in rows]))
                .group_by(DocumentRow.space_id)
            )
            counts = {space_id: count for space_id, count in session.execute(counted)}
            items = [Space.from_row(row, counts.get(row.id, 0)) for row in rows]
        return Page[Space](
            items=items, total_count=total, total_pages=math.ceil(total / page_size), page=page, page_size=page_size
        )

    def resolve(self, name_or_id: str | int) -> SpaceRow:
        """The stored row for an id (an int or ASCII digits) or a name (any case)."""
        with self._store.session() as session:
            row = find(session, SpaceRow, SpaceRow.name, name_or_id)
            if row is None:
                raise NotFound(f"no knowledge space {name_or_id!r}", field="space")
            session.expunge(row)
            return row


def _document_count(session: Session, space_id: int) -> int:
    return session.scalar(select(func.count()).where(DocumentRow.space_id == space_id)) or 0


def _refuse_taken_name(session: Session, name: str, own_id: int | None) -> None:
    refuse_taken_name(session, SpaceRow.id, SpaceRow.name, name, own_id, _name_taken(name))


def _name_taken(name: str) -> Conflict:
    return Conflict(f"knowledge space {name!r} already exists (names are compared whatever their case)", field="name")


def _stored(session: Session, key: int) -> SpaceRow:
    row = session.get(SpaceRow, key)
    if row is None:
        raise NotFound(f"no knowledge space with id {key}", field="id")
    return row
