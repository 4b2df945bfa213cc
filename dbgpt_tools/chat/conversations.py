"""Conversations and their messages, kept in the metadata store by `conv_uid`."""

from __future__ import annotations

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from dbgpt_tools.chat.models import Artifact, ChatMode, StoredMessage
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import ConversationRow, MessageRow, utcnow

_ARTIFACTS = TypeAdapter(list[Artifact])


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

    def history(self, conv_uid: str, limit: int) -> list[StoredMessage]:
        """The last `limit` messages of a conversation, oldest first (empty for an unknown id)."""
        if limit <= 0:
            return []
        with self._store.session() as session:
            rows = session.scalars(
                select(MessageRow).where(MessageRow.conv_uid == conv_uid).order_by(MessageRow.id.desc()).limit(limit)
            ).all()
            return [
                StoredMessage.model_validate(
                    {"role": row.role, "content": row.content, "artifacts": row.artifacts or []}
                )
                for row in reversed(rows)
            ]

    def info(self, conv_uid: str) -> ConversationInfo | None:
        """Where a conversation was started (None for an unknown id)."""
        with self._store.session() as session:
            row = session.get(ConversationRow, conv_uid)
            if row is None:
                return None
            return ConversationInfo(
                conv_uid=row.conv_uid,
                chat_mode=ChatMode(row.chat_mode),
                chat_param=row.chat_param,
                user_name=row.user_name,
                sys_code=row.sys_code,
            )

    def append(self, info: ConversationInfo, messages: list[StoredMessage]) -> None:
        """Add messages to a conversation, creating it on its first turn."""
        try:
            self._append(info, messages)
        except IntegrityError:  # another request created the conversation at the same moment
            self._append(info, messages)

    def _append(self, info: ConversationInfo, messages: list[StoredMessage]) -> None:
        # Core statements: a quarter of the ORM's cost, which shows when many answers end at once
        with self._store.engine.begin() as connection:
            touched = connection.execute(
                update(ConversationRow).where(ConversationRow.conv_uid == info.conv_uid).values(updated_at=utcnow())
            )
            if touched.rowcount == 0:
                connection.execute(
                    insert(ConversationRow).values(
                        conv_uid=info.conv_uid,
                        chat_mode=info.chat_mode.value,
                        chat_param=info.chat_param,
                        user_name=info.user_name,
                        sys_code=info.sys_code,
                    )
                )
            connection.execute(
                insert(MessageRow),
                [
                    {
                        "conv_uid": info.conv_uid,
                        "role": m.role,
                        "content": m.content,
                        "artifacts": _ARTIFACTS.dump_python(m.artifacts, mode="json") if m.artifacts else None,
                    }
                    for m in messages
                ],
            )
