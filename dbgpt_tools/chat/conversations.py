"""Conversations and their messages, kept in the metadata store by `conv_uid`."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dbgpt_tools.chat.models import Artifact, ChatMode, StoredMessage
from dbgpt_tools.knowledge.models import aware
from dbgpt_tools.store.lookup import check_page
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import ConversationRow, MessageRow, utcnow

_ARTIFACTS = TypeAdapter(list[Artifact])
AGENT_MODE: Final = "chat_react_agent"
ConversationMode = ChatMode | Literal["chat_react_agent"]
"""How a conversation was started: in a chat mode, or on DB-GPT's home page (its agent, `chat_react_agent`), where
each turn picks its own mode and target."""
_MODE: TypeAdapter[ConversationMode] = TypeAdapter(ConversationMode)
TITLE_CHARS = 256


class ConversationInfo(BaseModel):
    """Where a conversation was started (the first turn decides)."""

    conv_uid: str
    chat_mode: ConversationMode
    chat_param: str | None = None
    user_name: str | None = None
    sys_code: str | None = None


class ConversationSummary(ConversationInfo):
    """A conversation as a list shows it: where it was started, its first question (cut to `TITLE_CHARS`) and
    when."""

    question: str
    created_at: datetime
    updated_at: datetime


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
                chat_mode=_MODE.validate_python(row.chat_mode),
                chat_param=row.chat_param,
                user_name=row.user_name,
                sys_code=row.sys_code,
            )

    def page(
        self, page: int = 1, page_size: int = 20, chat_mode: ConversationMode | None = None
    ) -> tuple[list[ConversationSummary], int]:
        """One page of the conversations (of one mode when given), the newest first, and how many there are."""
        check_page(page, page_size)
        chosen = select(ConversationRow)
        counted = select(func.count()).select_from(ConversationRow)
        if chat_mode is not None:
            chosen = chosen.where(ConversationRow.chat_mode == str(chat_mode))
            counted = counted.where(ConversationRow.chat_mode == str(chat_mode))
        newest = (ConversationRow.created_at.desc(), ConversationRow.conv_uid)
        with self._store.session() as session:
            total = session.scalar(counted) or 0
            rows = session.scalars(chosen.order_by(*newest).offset((page - 1) * page_size).limit(page_size)).all()
            questions = self._first_questions(session, [row.conv_uid for row in rows])
            summaries = [
                ConversationSummary(
                    conv_uid=row.conv_uid,
                    chat_mode=_MODE.validate_python(row.chat_mode),
                    chat_param=row.chat_param,
                    user_name=row.user_name,
                    sys_code=row.sys_code,
                    question=questions.get(row.conv_uid, ""),
                    created_at=aware(row.created_at),
                    updated_at=aware(row.updated_at),
                )
                for row in rows
            ]
            return summaries, total

    @staticmethod
    def _first_questions(session: Session, conv_uids: list[str]) -> dict[str, str]:
        """The start of each conversation's first question (read cut: a question may be long)."""
        first = (
            select(func.min(MessageRow.id))
            .where(MessageRow.conv_uid.in_(conv_uids), MessageRow.role == "user")
            .group_by(MessageRow.conv_uid)
        )
        title = func.substr(MessageRow.content, 1, TITLE_CHARS)
        found = session.execute(select(MessageRow.conv_uid, title).where(MessageRow.id.in_(first)))
        return {conv_uid: text for conv_uid, text in found}

    def delete(self, conv_uid: str, *, keep_conversation: bool = False) -> bool:
        """Remove a conversation's messages, and the conversation unless `keep_conversation`; False when there was
        none."""
        with self._store.engine.begin() as connection:
            connection.execute(delete(MessageRow).where(MessageRow.conv_uid == conv_uid))
            kept = ConversationRow.conv_uid == conv_uid
            if keep_conversation:
                touched = connection.execute(update(ConversationRow).where(kept).values(updated_at=utcnow()))
            else:
                touched = connection.execute(delete(ConversationRow).where(kept))
            return touched.rowcount > 0

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
                        chat_mode=str(info.chat_mode),
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
