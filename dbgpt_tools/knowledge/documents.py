"""Documents of the knowledge spaces in the metadata store, and their source files under the data dir.

A document is text sent in the request (`doc_type` TEXT) or a file (DOCUMENT: an upload, or a path inside the
allowed document roots read by a face). Its file is kept as `knowledge/files/<id>/source.<type>`: the name a
caller gave is a label only, never a path. Creating or syncing a document queues its ingestion.
"""

from __future__ import annotations

import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from dbgpt_tools.errors import Conflict, InvalidInput, NotFound
from dbgpt_tools.knowledge.chunking import ChunkParameters
from dbgpt_tools.knowledge.loaders import document_type
from dbgpt_tools.knowledge.models import Document, DocumentStatus, Page
from dbgpt_tools.knowledge.spaces import SpaceRegistry
from dbgpt_tools.store.lookup import as_id, check_page
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import DocumentRow, SpaceRow, utcnow

log = logging.getLogger(__name__)
TEXT, FILE = "TEXT", "DOCUMENT"


@dataclass(frozen=True)
class SourceFile:
    """A document's file as received: the name the caller gave it and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class DocumentFile:
    """A document as a file of its space: its id, name and format (`pdf`, `txt`, ...)."""

    doc_id: int
    name: str
    file_type: str


class DocumentRegistry:
    """Create, get, list, sync and delete documents; their source files live in `files_dir`."""

    def __init__(self, store: MetadataStore, spaces: SpaceRegistry, files_dir: Path, max_bytes: int) -> None:
        self._store = store
        self._spaces = spaces
        self._files = files_dir
        self.max_bytes = max_bytes

    def create(
        self,
        space: str | int,
        doc_name: str,
        *,
        content: str | None = None,
        file: SourceFile | None = None,
        doc_source: str = "",
        chunk_parameters: ChunkParameters | None = None,
        unique_name: bool = False,
    ) -> Document:
        """Add a document from text or from a file, waiting for its ingestion (status TODO); `unique_name`: refuse
        a name the space already has (Conflict), as DB-GPT's v1 API does."""
        space_row = self._spaces.resolve(space)
        name = document_label(doc_name) if doc_name.strip() else file_label(file.name if file else "")
        if (content is None) == (file is None):
            raise InvalidInput("send either content (a text document) or a file", field="doc_file")
        if file is not None:
            self._check_size(len(file.data))
            file_type = document_type(file.name or name, None)
        else:
            assert content is not None
            self._check_size(len(content.encode()))
            if not content.strip():
                raise InvalidInput("content is empty", field="content")
            file_type = "md" if name.lower().endswith((".md", ".markdown")) else "txt"
        row = DocumentRow(
            space_id=space_row.id,
            doc_name=name,
            doc_type=FILE if file is not None else TEXT,
            doc_source=doc_source,
            content=content or "",
            file_name=file.name if file is not None else None,
            file_type=file_type,
            status=DocumentStatus.TODO.value,
            result="",
            chunk_parameters=(chunk_parameters or ChunkParameters()).model_dump(mode="json"),
            generation=1,
        )
        with self._store.session() as session:
            if unique_name and session.scalar(_named(space_row.id, name).with_only_columns(DocumentRow.id).limit(1)):
                raise Conflict(f"space {space_row.name!r} already has a document named {name!r}", field="doc_name")
            session.add(row)
            session.flush()
        if file is not None:
            try:
                folder = self._files / str(row.id)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"source.{file_type}").write_bytes(file.data)
            except OSError:
                self._forget(row.id)
                raise
        log.info("document %s (id %s, %s) added to space %s", name, row.id, file_type, space_row.name)
        return Document.from_row(row, space_row.name)

    def source_path(self, row: DocumentRow) -> Path | None:
        """Where a file document's bytes are kept (None for a text document)."""
        return self._files / str(row.id) / f"source.{row.file_type}" if row.doc_type == FILE else None

    def get(self, key: int | str) -> Document:
        """The document with this id."""
        with self._store.session() as session:
            row = _stored(session, as_id(key))
            return Document.from_row(row, _space_name(session, row.space_id))

    def row(self, key: int) -> DocumentRow:
        """The stored row (core use)."""
        with self._store.session() as session:
            row = _stored(session, key)
            session.expunge(row)
            return row

    def page(
        self,
        space: str | int | None = None,
        page: int = 1,
        page_size: int = 20,
        *,
        doc_ids: list[int] | None = None,
        name_contains: str | None = None,
        status: DocumentStatus | None = None,
        doc_type: str | None = None,
    ) -> Page[Document]:
        """One page of the documents (of one space, or of all), by id; optionally only those with these ids, whose
        name holds `name_contains`, in this status or of this type (TEXT, DOCUMENT)."""
        check_page(page, page_size)
        query = select(DocumentRow)
        if space is not None:
            query = query.where(DocumentRow.space_id == self._spaces.resolve(space).id)
        if doc_ids is not None:
            query = query.where(DocumentRow.id.in_(doc_ids))
        if name_contains:
            query = query.where(DocumentRow.doc_name.contains(name_contains, autoescape=True))
        if status is not None:
            query = query.where(DocumentRow.status == status.value)
        if doc_type is not None:
            query = query.where(DocumentRow.doc_type == doc_type)
        with self._store.session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(query.order_by(DocumentRow.id).offset((page - 1) * page_size).limit(page_size)).all()
            names = {space_id: name for space_id, name in session.execute(select(SpaceRow.id, SpaceRow.name))}
            items = [Document.from_row(row, names.get(row.space_id, "")) for row in rows]
        pages = math.ceil(total / page_size)
        return Page[Document](items=items, total_count=total, total_pages=pages, page=page, page_size=page_size)

    def named(self, space: str | int, doc_name: str) -> list[Document]:
        """The documents of a space with exactly this name (DB-GPT names a document by its name within its space)."""
        space_row = self._spaces.resolve(space)
        with self._store.session() as session:
            rows = session.scalars(_named(space_row.id, doc_name).order_by(DocumentRow.id))
            return [Document.from_row(row, space_row.name) for row in rows]

    def totals(self, space: str | int) -> tuple[int, int]:
        """How many documents a space holds, and how many searchable chunks they make."""
        space_id = self._spaces.resolve(space).id
        counted = select(func.count(), func.coalesce(func.sum(DocumentRow.chunk_count), 0))
        with self._store.session() as session:
            documents, chunks = session.execute(counted.where(DocumentRow.space_id == space_id)).one()
        return int(documents), int(chunks)

    def files(self, space: str | int, limit: int) -> list[DocumentFile]:
        """The first `limit` documents of a space as files (id, name, format), by id, without their text."""
        space_id = self._spaces.resolve(space).id
        query = select(DocumentRow.id, DocumentRow.doc_name, DocumentRow.file_type).where(
            DocumentRow.space_id == space_id
        )
        with self._store.session() as session:
            rows = session.execute(query.order_by(DocumentRow.id).limit(limit)).all()
        return [DocumentFile(doc_id, name, file_type) for doc_id, name, file_type in rows]

    def sync(self, key: int | str, chunk_parameters: ChunkParameters | None = None) -> Document:
        """Queue a document's ingestion again (with new chunk parameters, if given): its chunks are replaced when
        the new ones are ready; until then the old ones stay searchable."""
        doc_id = as_id(key)
        with self._store.session() as session:
            row = _stored(session, doc_id)
            if chunk_parameters is not None:
                row.chunk_parameters = chunk_parameters.model_dump(mode="json")
            row.generation += 1
            row.status = DocumentStatus.TODO.value
            row.result = ""
            row.chunks_done = row.chunks_total = 0
            session.flush()
            return Document.from_row(row, _space_name(session, row.space_id))

    def delete(self, key: int | str) -> Document:
        """Remove a document from the store and its file; the caller removes its chunks."""
        doc_id = as_id(key)
        with self._store.session() as session:
            row = _stored(session, doc_id)
            document = Document.from_row(row, _space_name(session, row.space_id))
            if row.live_generation is not None:
                session.execute(
                    update(SpaceRow)
                    .where(SpaceRow.id == row.space_id)
                    .values(keyword_generation=SpaceRow.keyword_generation + 1)
                )
            session.delete(row)
        self.remove_files([doc_id])
        return document

    def remove_files(self, doc_ids: list[int]) -> None:
        """Remove the source files of documents that are gone."""
        for doc_id in doc_ids:
            shutil.rmtree(self._files / str(doc_id), ignore_errors=True)

    def _forget(self, doc_id: int) -> None:
        with self._store.session() as session:
            session.execute(delete(DocumentRow).where(DocumentRow.id == doc_id))
        self.remove_files([doc_id])

    def _check_size(self, size: int) -> None:
        if size > self.max_bytes:
            limit = self.max_bytes // (1024 * 1024)
            raise InvalidInput(
                f"the document is larger than {limit} MB (DBGPT_KNOWLEDGE_MAX_FILE_MB)", field="doc_file"
            )

    def touch(self, doc_id: int, **values: object) -> None:
        """Set some fields of a document (ingestion's progress and outcome)."""
        with self._store.engine.begin() as connection:
            connection.execute(
                update(DocumentRow).where(DocumentRow.id == doc_id).values(updated_at=utcnow(), **values)
            )


def document_label(name: str) -> str:
    """The name shown for a document: one line, at most 256 characters, `untitled` when nothing is left."""
    shown = "".join(c for c in name if c.isprintable()).strip()[:256]
    return shown or "untitled"


def file_label(file_name: str) -> str:
    """A document's name from its file's name (a browser may send a whole path: only its last part counts)."""
    return document_label(file_name.replace("\\", "/").rsplit("/", 1)[-1])


def _stored(session: Session, key: int) -> DocumentRow:
    row = session.get(DocumentRow, key)
    if row is None:
        raise NotFound(f"no document with id {key}", field="id")
    return row


def _named(space_id: int, doc_name: str) -> Select[DocumentRow]:
    return select(DocumentRow).where(DocumentRow.space_id == space_id, DocumentRow.doc_name == doc_name)


def _space_name(session: Session, space_id: int) -> str:
    return session.scalar(select(SpaceRow.name).where(SpaceRow.id == space_id)) or ""
