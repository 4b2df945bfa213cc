"""Conversations and their messages, kept in the metadata store by `conv_uid`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from dbgpt_tools.chat.models import ChatMessage, ChatMode
from dbgpt_tools.store.metadata import Base, MetadataStore, Timestamped, utcnow


class ConversationRow(Timestamped, Base):
    __tablename__ = "conversations"

    conv_uid: Mapped[str] = mapped_column(String(128), primary_key=True)
    chat_mode: Mapped[str] = mapped_column(String(32))
    chat_param: Mapped[str | None] = mapped_column(String(256))
    user_name: Mapped[str | None] = mapped_column(String(128))
    sys_code: Mapped[str | None] = mapped_column(String(128))


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    conv_uid: Mapped[str] = mapped_column(
        String(128), ForeignKey("conversations.conv_uid", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationInfo(BaseModel):
    """Where a conversation was started (the first turn decides)."""

    conv_uid: str
    chat_mode: ChatMode
    chat_param: str | None = None
    user_name: str | None = None
    sys_code: str | None = None


class ConversationStore:
    """Reads and appends conversation turns."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    def history(self, conv_uid: str, limit: int) -> list[ChatMessage]:
        """The last `limit` messages of a conversation, oldest first (empty for an unknown id)."""
        if limit <= 0:
            return []
        with self._store.session() as session:
            rows = session.scalars(
                select(MessageRow)
                .where(MessageRow.conv_uid == conv_uid)
                .order_by(MessageRow.id.desc())
                .limit(limit)
            ).all()
            return [ChatMessage(role=row.role, content=row.content) for row in reversed(rows)]  # type: ignore[arg-type]

    def append(self, info: ConversationInfo, messages: list[ChatMessage]) -> None:
        """Add messages to a conversation, creating it on its first turn."""
        try:
            self._append(info, messages)
        except IntegrityError:  # another request created the conversation at the same moment
            self._append(info, messages)

    def _append(self, info: ConversationInfo, messages: list[ChatMessage]) -> None:
        with self._store.session() as session:
            row = session.get(ConversationRow, info.conv_uid)
            if row is None:
                session.add(
                    ConversationRow(
                        conv_uid=info.conv_uid,
                        chat_mode=info.chat_mode.value,
                        chat_param=info.chat_param,
                        user_name=info.user_name,
                        sys_code=info.sys_code,
                    )
                )
                session.flush()
            else:
                row.updated_at = utcnow()
            session.add_all(MessageRow(conv_uid=info.conv_uid, role=m.role, content=m.content) for m in messages)
