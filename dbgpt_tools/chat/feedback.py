"""Feedback on a chat_data answer: an answer marked correct becomes a question-SQL example of its datasource (the
user's question and the query that produced the rows), so later questions like it are answered like it."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from dbgpt_tools.apps.registry import AppRegistry, target_of
from dbgpt_tools.chat.conversations import ConversationMode, ConversationStore
from dbgpt_tools.chat.models import ChatMode, ConvUid, QueryArtifact
from dbgpt_tools.errors import Conflict, NotFound
from dbgpt_tools.sql.examples import Example, ExampleIn, ExampleStore

MAX_MESSAGES = 10_000


class FeedbackIn(BaseModel):
    """A verdict on one answer (the latest unless `answer` counts back from it: 1 = latest)."""

    correct: bool = Field(description="Whether the answer was right.")
    answer: int = Field(default=1, ge=1, le=MAX_MESSAGES, description="Which answer, counting back from the latest.")


class Feedback(FeedbackIn):
    """A verdict on one answer of a conversation."""

    conv_uid: ConvUid


class FeedbackResult(BaseModel):
    """What the feedback did: the example it made, when the answer was right and ran a query."""

    conv_uid: str
    correct: bool
    example: Example | None


class FeedbackService:
    """Turns answers marked correct into examples."""

    def __init__(self, conversations: ConversationStore, apps: AppRegistry, examples: ExampleStore) -> None:
        self._conversations = conversations
        self._apps = apps
        self._examples = examples

    async def give(self, feedback: Feedback) -> FeedbackResult:
        """Record the verdict; a correct answer that ran a query is added to its datasource's examples."""
        info = await asyncio.to_thread(self._conversations.info, feedback.conv_uid)
        if info is None:
            raise NotFound(f"no conversation with conv_uid {feedback.conv_uid!r}", field="conv_uid")
        # turns are stored as (question, answer) pairs: the last 2 * answer messages hold the one asked about
        messages = await asyncio.to_thread(self._conversations.history, feedback.conv_uid, 2 * feedback.answer)
        answers = [index for index, message in enumerate(messages) if message.role == "assistant"]
        if feedback.answer > len(answers):
            raise NotFound(f"the conversation has {len(answers)} answers, not {feedback.answer}", field="answer")
        position = answers[-feedback.answer]
        if not feedback.correct:
            return FeedbackResult(conv_uid=info.conv_uid, correct=False, example=None)
        queries = [a for a in messages[position].artifacts if isinstance(a, QueryArtifact)]
        question = messages[position - 1].content if position and messages[position - 1].role == "user" else ""
        datasource = await asyncio.to_thread(self._datasource, info.chat_mode, info.chat_param)
        if not queries or not question or datasource is None:
            raise Conflict("this answer ran no query on a datasource, so there is no example to learn", field="answer")
        example = ExampleIn(question=question, sql=queries[-1].result.sql)
        stored = await self._examples.add(datasource, example, source="feedback")
        return FeedbackResult(conv_uid=info.conv_uid, correct=True, example=stored)

    def _datasource(self, mode: ConversationMode, param: str | None) -> str | None:
        if mode is ChatMode.chat_data:
            return param
        if mode is ChatMode.chat_app and param is not None:
            target = target_of(self._apps.row(param))
            return target.param if target.mode is ChatMode.chat_data else None
        return None
