"""The chat service: one streaming turn per request, history by `conv_uid`, modes as pluggable handlers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping

import anyio

from dbgpt_tools.chat.conversations import ConversationInfo, ConversationMode, ConversationStore
from dbgpt_tools.chat.markup import strip_markup
from dbgpt_tools.chat.models import (
    Artifact,
    ChatChunk,
    ChatMessage,
    ChatMode,
    ChatRequest,
    ChatResult,
    FinishReason,
    StoredMessage,
    Usage,
)
from dbgpt_tools.chat.modes.base import ModeHandler, TurnContext
from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.llm.client import LLM

DeltaCallback = Callable[[str], Awaitable[None]]
RESULT_SHOWN = "(result shown to the user)"


class ChatTurn:
    """One answer in progress: iterate it for chunks; the turn is saved to its conversation at the end."""

    def __init__(
        self,
        request: ChatRequest,
        question: str,
        history: list[ChatMessage],
        handler: ModeHandler,
        service: ChatService,
        info: ConversationInfo,
    ) -> None:
        self.request = request
        self.question = question
        self.history = history
        self.conv_uid = info.conv_uid
        self._handler = handler
        self._service = service
        self._info = info

    async def __aiter__(self) -> AsyncGenerator[ChatChunk, None]:
        llm = self._service.llm
        admission = llm.gate.admit()
        context = TurnContext(self.request, self.question, self.history, llm, admission)
        parts: list[str] = []
        artifacts: list[Artifact] = []
        try:
            async for chunk in self._handler.answer(context):
                parts.append(chunk.delta)
                if chunk.artifact is not None:
                    artifacts.append(chunk.artifact)
                yield chunk
        finally:
            admission.release()
            answer = "".join(parts)
            if answer or artifacts:  # a partial answer (client gone mid-stream) is kept too
                turn = [
                    StoredMessage(role="user", content=self.question),
                    StoredMessage(role="assistant", content=answer, artifacts=artifacts),
                ]
                with anyio.CancelScope(shield=True):
                    await asyncio.to_thread(self._service.store.append, self._info, turn)

    async def collect(self, on_delta: DeltaCallback | None = None) -> ChatResult:
        """The whole answer; `on_delta` sees each piece of text as it arrives."""
        parts: list[str] = []
        artifacts: list[Artifact] = []
        finish: FinishReason = "stop"
        usage = Usage()
        async for chunk in self:
            if chunk.delta:
                parts.append(chunk.delta)
                if on_delta is not None:
                    await on_delta(chunk.delta)
            if chunk.artifact is not None:
                artifacts.append(chunk.artifact)
            finish = chunk.finish_reason or finish
            usage = chunk.usage or usage
        return ChatResult(
            conv_uid=self.conv_uid,
            model=self._service.llm.model_name,
            content="".join(parts),
            artifacts=artifacts,
            finish_reason=finish,
            usage=usage,
        )


class ChatService:
    """Starts chat turns in the modes it was given."""

    def __init__(
        self, store: ConversationStore, llm: LLM, modes: Mapping[ChatMode, ModeHandler], history_messages: int
    ) -> None:
        self.store = store
        self.llm = llm
        self._modes = dict(modes)
        self._history_messages = history_messages

    @property
    def modes(self) -> list[ChatMode]:
        """The chat modes this service answers."""
        return list(self._modes)

    async def start(self, request: ChatRequest, conversation_mode: ConversationMode | None = None) -> ChatTurn:
        """Check the request and load its history; iterate the returned turn for the answer. A new conversation is
        kept as started in `conversation_mode` (by default the request's mode).

        Refusals (unknown target, busy model) are raised here, before any answer streams.
        """
        handler = self._modes[request.chat_mode]
        await handler.check(request)
        question, history = await self._question_and_history(request)
        self.llm.gate.check()
        info = ConversationInfo(
            conv_uid=request.conv_uid or str(uuid.uuid4()),
            chat_mode=conversation_mode or request.chat_mode,
            chat_param=request.chat_param,
            user_name=request.user_name,
            sys_code=request.sys_code,
        )
        return ChatTurn(request, question, history, handler, self, info)

    async def complete(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResult:
        """The whole answer at once (the collected stream)."""
        turn = await self.start(request)
        return await turn.collect(on_delta)

    async def _question_and_history(self, request: ChatRequest) -> tuple[str, list[ChatMessage]]:
        messages = request.message_list()
        if messages[-1].role != "user":
            raise InvalidInput("the last message must be the user's question", field="messages")
        question = messages[-1].content
        if not question.strip():
            raise InvalidInput("the question must not be empty", field="messages")
        if len(messages) > 1:  # an OpenAI-style full history, maybe holding our REST answers' markup
            return question, [_without_markup(m) for m in messages[:-1]]
        if request.conv_uid is None:
            return question, []
        history = await asyncio.to_thread(self.store.history, request.conv_uid, self._history_messages)
        return question, list(history)


def _without_markup(message: ChatMessage) -> ChatMessage:
    """An assistant message sent back by a client, its chart-view markup (all those rows) replaced by a note."""
    if message.role != "assistant":
        return message
    return message.model_copy(update={"content": strip_markup(message.content, RESULT_SHOWN)})
