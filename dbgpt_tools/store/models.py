"""The metadata store's tables, every domain's in one place (their schema evolves by the migrations beside them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """The current time in UTC (stored timezone-aware)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every metadata table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


class Timestamped:
    """Creation and modification times, set by the store."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DatasourceRow(Timestamped, Base):
    """A registered database; `db_pwd` is stored as given and never leaves the core. Names are unique whatever
    their case."""

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

    __table_args__ = (Index("ix_datasources_db_name_lower", func.lower(db_name), unique=True),)


class ConversationRow(Timestamped, Base):
    """A conversation: where its first turn was asked (mode and target) and by whom."""

    __tablename__ = "conversations"

    conv_uid: Mapped[str] = mapped_column(String(128), primary_key=True)
    chat_mode: Mapped[str] = mapped_column(String(32))
    chat_param: Mapped[str | None] = mapped_column(String(256))
    user_name: Mapped[str | None] = mapped_column(String(128))
    sys_code: Mapped[str | None] = mapped_column(String(128))


class MessageRow(Base):
    """One message of a conversation, in order of `id`; an assistant message keeps its artifacts as JSON."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    conv_uid: Mapped[str] = mapped_column(
        String(128), ForeignKey("conversations.conv_uid", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    artifacts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SpaceRow(Timestamped, Base):
    """A knowledge space; `keyword_generation` changes whenever its searchable chunks do (the keyword index of
    each worker follows it); `vector_store` says which Chroma holds its vectors."""

    __tablename__ = "knowledge_spaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    vector_type: Mapped[str] = mapped_column(String(32), default="Chroma")
    desc: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(128), default="")
    context: Mapped[str | None] = mapped_column(Text, default=None)
    keyword_generation: Mapped[int] = mapped_column(Integer, default=0)
    vector_store: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_knowledge_spaces_name_lower", func.lower(name), unique=True),)


class DocumentRow(Timestamped, Base):
    """A document of a space: its source, status and chunking. Chunks of generation `live_generation` are the
    searchable ones; an ingestion writes `generation` and makes it live when it finishes."""

    __tablename__ = "knowledge_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    space_id: Mapped[int] = mapped_column(Integer, ForeignKey("knowledge_spaces.id", ondelete="CASCADE"), index=True)
    doc_name: Mapped[str] = mapped_column(String(256))
    doc_type: Mapped[str] = mapped_column(String(16))
    doc_source: Mapped[str] = mapped_column(String(64), default="")
    content: Mapped[str] = mapped_column(Text, default="")
    file_name: Mapped[str | None] = mapped_column(String(256), default=None)
    file_type: Mapped[str] = mapped_column(String(16), default="txt")
    status: Mapped[str] = mapped_column(String(16), default="TODO")
    result: Mapped[str] = mapped_column(Text, default="")
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    chunks_total: Mapped[int] = mapped_column(Integer, default=0)
    chunk_parameters: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    live_generation: Mapped[int | None] = mapped_column(Integer, default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    last_sync: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (  # what a search reads, without the documents' text
        Index("ix_knowledge_documents_live", space_id, live_generation, id, doc_name, file_type),
    )


class AppRow(Timestamped, Base):
    """An app: a saved chat configuration (DB-GPT's `AppModel`); its details (resources, prompt template) as
    JSON."""

    __tablename__ = "apps"

    app_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_name: Mapped[str] = mapped_column(String(128), unique=True)
    app_describe: Mapped[str] = mapped_column(Text, default="")
    team_mode: Mapped[str] = mapped_column(String(32), default="single_agent")
    language: Mapped[str] = mapped_column(String(16), default="en")
    team_context: Mapped[str | None] = mapped_column(Text, default=None)
    user_code: Mapped[str | None] = mapped_column(String(128), default=None)
    sys_code: Mapped[str | None] = mapped_column(String(128), default=None)
    icon: Mapped[str | None] = mapped_column(Text, default=None)
    details: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class FlowRow(Timestamped, Base):
    """A flow (DB-GPT's `FlowPanel`); its checked graph as JSON, in the form callers send (`FlowDataIn`)."""

    __tablename__ = "flows"

    uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    label: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    flow_category: Mapped[str] = mapped_column(String(32), default="chat_flow")
    source: Mapped[str] = mapped_column(String(256), default="DBGPT-WEB")
    source_url: Mapped[str | None] = mapped_column(String(256), default=None)
    user_name: Mapped[str | None] = mapped_column(String(256), default=None)
    sys_code: Mapped[str | None] = mapped_column(String(256), default=None)
    flow_data: Mapped[dict[str, Any]] = mapped_column(JSON)


class EvalDatasetRow(Timestamped, Base):
    """An evaluation dataset: its rows (questions and what a right result holds) as JSON."""

    __tablename__ = "eval_datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class EvalRunRow(Timestamped, Base):
    """An evaluation run: what ran, its progress (with a heartbeat and a cancel request), and its results."""

    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scene_key: Mapped[str] = mapped_column(String(16))
    scene_value: Mapped[str] = mapped_column(String(256))
    datasets_name: Mapped[str | None] = mapped_column(String(128), default=None)
    metrics: Mapped[list[str]] = mapped_column(JSON)
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="RUNNING")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    aggregate: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    results: Mapped[list[list[dict[str, Any]]] | None] = mapped_column(JSON, default=None)


class SqlExampleRow(Base):
    """A verified question-SQL pair of a datasource, with the question's embedding (to find similar ones)."""

    __tablename__ = "sql_examples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    datasource_id: Mapped[int] = mapped_column(Integer, index=True)
    question: Mapped[str] = mapped_column(Text)
    sql: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="user")
    vector: Mapped[list[float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginSessionRow(Base):
    """A web UI login: the SHA-256 of its cookie token (never the token itself), a keyed hash binding it to the API
    key it was opened with (a key taken out of the settings ends its sessions) and when it expires."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_binding: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
