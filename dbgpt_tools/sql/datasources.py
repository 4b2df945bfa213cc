"""Datasources: CRUD in the metadata store, one cached engine per datasource, connection tests and `run_sql`.

Field names follow DB-GPT's `DatasourceModel`. For PostgreSQL and MySQL `db_name` is the database on the
server (as in DB-GPT); for SQLite and DuckDB it is a free name and `db_path` is the file, which must resolve
inside one of `settings.allowed_db_roots`. `db_pwd` is stored, never returned or logged.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Boolean, Engine, Integer, String, Text, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from dbgpt_tools.errors import Conflict, DbgptError, InvalidInput, NotFound
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.engine_config import FILE_TYPES, HOST_TYPES, EngineConfig
from dbgpt_tools.sql.engines import create_datasource_engine
from dbgpt_tools.sql.errors import first_line, scrub, translate_error
from dbgpt_tools.sql.results import QueryResult
from dbgpt_tools.sql.safety import SUPPORTED_DIALECTS, check_sql
from dbgpt_tools.store.metadata import Base, MetadataStore, Timestamped

log = logging.getLogger(__name__)

MASK = "******"
_VERSION_SQL = {
    "sqlite": "SELECT sqlite_version()",
    "duckdb": "SELECT version()",
    "postgresql": "SELECT version()",
    "mysql": "SELECT version()",
}


class DatasourceRow(Timestamped, Base):
    __tablename__ = "datasources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    db_name: Mapped[str] = mapped_column(String(256), unique=True)
    db_type: Mapped[str] = mapped_column(String(32))
    db_path: Mapped[str] = mapped_column(Text, default="")
    db_host: Mapped[str] = mapped_column(String(256), default="")
    db_port: Mapped[int] = mapped_column(Integer, default=0)
    db_user: Mapped[str] = mapped_column(String(256), default="")
    db_pwd: Mapped[str] = mapped_column(Text, default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    read_only: Mapped[bool] = mapped_column(Boolean, default=True)


class DatasourceIn(BaseModel):
    """A datasource as callers send it. `null` means absent; on update an empty or masked `db_pwd` keeps the old one."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: int | None = Field(default=None, description="The datasource id (required on update).")
    db_name: str = Field(min_length=1, max_length=256, description="Unique name; the database name on a server.")
    db_type: str = Field(min_length=1, description="sqlite, duckdb, postgresql or mysql.")
    db_path: str = Field(default="", description="File of a SQLite/DuckDB database (relative: in the data dir).")
    db_host: str = Field(default="", description="Server host (PostgreSQL/MySQL).")
    db_port: int = Field(default=0, ge=0, le=65535, description="Server port (0: the type's default).")
    db_user: str = Field(default="", description="Database user.")
    db_pwd: str = Field(default="", description="Database password (stored, never returned).")
    comment: str = Field(default="", description="Free description.")
    read_only: bool = Field(default=True, description="Refuse every write (checked by the parser and the engine).")

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value is not None}
        return data


class Datasource(BaseModel):
    """A datasource as returned: `db_pwd` is `"******"` when a password is set, `""` otherwise."""

    id: int
    db_name: str
    db_type: str
    db_path: str = ""
    db_host: str = ""
    db_port: int = 0
    db_user: str = ""
    db_pwd: str = ""
    comment: str = ""
    read_only: bool = True

    @classmethod
    def from_row(cls, row: DatasourceRow) -> Datasource:
        return cls(
            id=row.id,
            db_name=row.db_name,
            db_type=row.db_type,
            db_path=row.db_path,
            db_host=row.db_host,
            db_port=row.db_port,
            db_user=row.db_user,
            db_pwd=MASK if row.db_pwd else "",
            comment=row.comment,
            read_only=row.read_only,
        )


class ConnectionStatus(BaseModel):
    """Outcome of a connection test: the server version when it answered, a short error otherwise."""

    ok: bool
    db_name: str
    db_type: str
    version: str | None = None
    elapsed_ms: float
    error: str | None = None


def confine_path(settings: Settings, db_path: str) -> Path:
    """`db_path` resolved (home, symlinks, `..`), relative to the data dir; refused outside the allowed roots."""
    if not db_path.strip():
        raise InvalidInput("db_path is required for a file database", field="db_path")
    roots = settings.allowed_db_roots
    candidate = Path(db_path).expanduser()
    resolved = (candidate if candidate.is_absolute() else roots[0] / candidate).resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise InvalidInput(
            f"db_path {db_path!r} is outside the allowed roots ({allowed}); add a directory to DBGPT_DB_ROOTS",
            field="db_path",
        )
    return resolved


def _file_path(settings: Settings, db_path: str, read_only: bool) -> Path:
    path = confine_path(settings, db_path)
    if read_only and not path.is_file():
        raise InvalidInput(
            f"db_path {db_path!r} does not exist (a read-only datasource needs an existing file)", field="db_path"
        )
    return path


def _parse(data: DatasourceIn | Mapping[str, Any]) -> DatasourceIn:
    if isinstance(data, DatasourceIn):
        return data
    try:
        return DatasourceIn.model_validate(data)
    except ValidationError as error:
        problem = error.errors()[0]
        name = ".".join(str(part) for part in problem["loc"])
        raise InvalidInput(f"{name}: {problem['msg']}", field=name or None) from None


class DatasourceService:
    """Datasource CRUD and SQL execution. Engines are cached per datasource and rebuilt when its row changes."""

    def __init__(self, settings: Settings, store: MetadataStore) -> None:
        self._settings = settings
        self._store = store
        Base.metadata.create_all(store.engine, tables=[DatasourceRow.__table__])  # type: ignore[list-item]
        self._engines: dict[int, tuple[str, Engine]] = {}
        self._lock = threading.Lock()

    # --- CRUD ---------------------------------------------------------------------------------------------

    def create(self, data: DatasourceIn | Mapping[str, Any]) -> Datasource:
        """Register a datasource. Duplicate `db_name`: Conflict."""
        request = self._validate(_parse(data))
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
        request = self._validate(_parse(data))
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
        """Remove a datasource and close its connections."""
        key = _as_id(id)
        with self._store.session() as session:
            row = _stored(session, key)
            session.delete(row)
        self._drop_engine(key)
        log.info("datasource %s (id %s) deleted", row.db_name, key)
        return Datasource.from_row(row)

    def get(self, id: int | str) -> Datasource:
        """The datasource with this id (a numeric string is accepted)."""
        with self._store.session() as session:
            return Datasource.from_row(_stored(session, _as_id(id)))

    def get_by_name(self, name: str) -> Datasource:
        """The datasource called `name`."""
        with self._store.session() as session:
            row = session.scalar(select(DatasourceRow).where(DatasourceRow.db_name == name))
            if row is None:
                raise NotFound(f"no datasource named {name!r}", field="db_name")
            return Datasource.from_row(row)

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

    # --- Connections --------------------------------------------------------------------------------------

    def config(self, row: DatasourceRow | DatasourceIn) -> EngineConfig:
        """The engine configuration of a datasource (file paths confined to the allowed roots)."""
        path = _file_path(self._settings, row.db_path, row.read_only) if row.db_type in FILE_TYPES else None
        return EngineConfig(
            db_type=row.db_type,
            read_only=row.read_only,
            timeout=self._settings.sql_timeout,
            path=path,
            host=row.db_host,
            port=row.db_port,
            user=row.db_user,
            password=row.db_pwd,
            database=row.db_name if row.db_type in HOST_TYPES else "",
        )

    def engine(self, name_or_id: str | int | DatasourceRow) -> Engine:
        """The datasource's engine, rebuilt when its stored configuration changed (even by another process)."""
        row = name_or_id if isinstance(name_or_id, DatasourceRow) else self.resolve(name_or_id)
        return self._engine_for(row)[1]

    def _engine_for(self, row: DatasourceRow) -> tuple[EngineConfig, Engine]:
        config = self.config(row)
        fingerprint = config.fingerprint()
        with self._lock:
            cached = self._engines.get(row.id)
            if cached is not None and cached[0] == fingerprint:
                return config, cached[1]
            if cached is not None:
                cached[1].dispose()
            engine = create_datasource_engine(config)
            self._engines[row.id] = (fingerprint, engine)
            return config, engine

    def test_connection(self, target: str | int | DatasourceIn) -> ConnectionStatus:
        """Connect and ask the server version; an unreachable server gives `ok=False` with a short error.

        A `DatasourceIn` is tested without being saved (its engine is thrown away afterwards); with an `id` and
        an empty or masked `db_pwd` it uses the stored password, as an update would.
        """
        if isinstance(target, DatasourceIn):
            source: DatasourceRow | DatasourceIn = target
            if target.id is not None and target.db_pwd in ("", MASK):
                with self._store.session() as session:
                    stored = session.get(DatasourceRow, target.id)
                    source = target.model_copy(update={"db_pwd": stored.db_pwd if stored else ""})
        else:
            source = self.resolve(target)
        started = time.perf_counter()
        config: EngineConfig | None = None
        try:
            if isinstance(source, DatasourceIn):
                source = self._validate(source)
                config = self.config(source)
                engine = create_datasource_engine(config)
            else:
                config, engine = self._engine_for(source)
            try:
                with engine.connect() as conn:
                    version = conn.execute(text(_VERSION_SQL[config.db_type])).scalar()
            finally:
                if isinstance(source, DatasourceIn):
                    engine.dispose()
        except (DbgptError, SQLAlchemyError, OSError) as error:
            if isinstance(error, SQLAlchemyError) and config is not None:
                message = translate_error(error, config, connecting=True).message
            else:
                message = getattr(error, "message", None) or str(error)
            return ConnectionStatus(
                ok=False,
                db_name=source.db_name,
                db_type=source.db_type,
                elapsed_ms=_ms_since(started),
                error=scrub(first_line(message), source.db_pwd),
            )
        return ConnectionStatus(
            ok=True,
            db_name=source.db_name,
            db_type=source.db_type,
            version=None if version is None else str(version),
            elapsed_ms=_ms_since(started),
        )

    def run_sql(
        self,
        name_or_id: str | int,
        sql: str,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> QueryResult:
        """Run one checked statement (reads only, unless the datasource is writable), at most `limit` rows."""
        row = self.resolve(name_or_id)
        checked = check_sql(sql, row.db_type, writable=not row.read_only)
        cap = self._row_cap(limit)
        config, engine = self._engine_for(row)
        started = time.perf_counter()
        try:
            conn = engine.connect()
        except SQLAlchemyError as error:
            raise translate_error(error, config, connecting=True) from None
        with conn:
            try:
                result = conn.execute(text(checked.sql), params or {})
                if result.returns_rows:
                    columns = [str(key) for key in result.keys()]
                    fetched = result.cursor.fetchmany(cap + 1)  # the driver's tuples, no Row objects
                    result.close()
                else:
                    columns, fetched = ["rows_affected"], [(result.rowcount,)]
                if checked.is_write:
                    conn.commit()
            except SQLAlchemyError as error:
                raise translate_error(error, config) from None
        truncated = len(fetched) > cap
        rows = fetched[:cap]  # the driver's values; QueryResult converts them when it is serialised to JSON
        return QueryResult.model_construct(  # every field is built here from checked values
            columns=columns,
            rows=rows,
            row_count=len(rows),
            truncated=truncated,
            limit_applied=cap,
            elapsed_ms=_ms_since(started),
            sql=checked.sql,
        )

    def close(self) -> None:
        """Dispose of every cached engine."""
        with self._lock:
            engines, self._engines = self._engines, {}
        for _fingerprint, engine in engines.values():
            engine.dispose()

    # --- Helpers ------------------------------------------------------------------------------------------

    def _row_cap(self, limit: int | None) -> int:
        if limit is None:
            return self._settings.sql_row_limit
        if limit < 1:
            raise InvalidInput(f"limit must be at least 1, got {limit}", field="limit")
        if limit > self._settings.sql_max_row_limit:
            raise InvalidInput(
                f"limit {limit} exceeds the maximum of {self._settings.sql_max_row_limit} rows", field="limit"
            )
        return limit

    def _validate(self, request: DatasourceIn) -> DatasourceIn:
        db_type = request.db_type.lower()
        if db_type not in SUPPORTED_DIALECTS:
            supported = ", ".join(SUPPORTED_DIALECTS)
            raise InvalidInput(f"unsupported db_type {request.db_type!r}; supported: {supported}", field="db_type")
        if db_type in FILE_TYPES:
            _file_path(self._settings, request.db_path, request.read_only)
        elif not request.db_host:
            raise InvalidInput(f"db_host is required for a {db_type} datasource", field="db_host")
        return request.model_copy(update={"db_type": db_type})

    def _drop_engine(self, key: int) -> None:
        with self._lock:
            cached = self._engines.pop(key, None)
        if cached is not None:
            cached[1].dispose()


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


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
