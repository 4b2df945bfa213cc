"""The chat service: one streaming turn per request, history by `conv_uid`, modes as pluggable handlers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio

from dbgpt_tools.chat.conversations import ConversationInfo, ConversationStore
from dbgpt_tools.chat.models import (
    ChatChunk,
    ChatMessage,
    ChatMode,
    ChatRequest,
    ChatResult,
    FinishReason,
    Usage,
)
from dbgpt_tools.chat.modes.base import ModeHandler, TurnContext
from dbgpt_tools.chat.modes.normal import NormalChat
from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.llm.client import LLM
from dbgpt_tools.settings import Settings

DeltaCallback = Callable[[str], Awaitable[None]]


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

    async def __aiter__(self) -> AsyncIterator[ChatChunk]:
        llm = self._service.llm
        admission = llm.gate.admit()
        context = TurnContext(self.request, self.question, self.history, llm, admission)
        parts: list[str] = []
        try:
            async for chunk in self._handler.answer(context):
                parts.append(chunk.delta)
                yield chunk
        finally:
            admission.release()
            answer = "".join(parts)
            if answer:  # a partial answer (client gone mid-stream) is kept too
                turn = [
                    ChatMessage(role="user", content=self.question),
                    ChatMessage(role="assistant", content=answer),
                ]
                with anyio.CancelScope(shield=True):
                    await asyncio.to_thread(self._service.store.append, self._info, turn)

    async def collect(self, on_delta: DeltaCallback | None = None) -> tuple[str, FinishReason, Usage]:
        """The whole answer: (text, finish reason, usage); `on_delta` sees each piece as it arrives."""
        parts: list[str] = []
        finish: FinishReason = "stop"
        usage = Usage()
        async for chunk in self:
            if chunk.delta:
                parts.append(chunk.delta)
                if on_delta is not None:
                    await on_delta(chunk.delta)
            finish = chunk.finish_reason or finish
            usage = chunk.usage or usage
        return "".join(parts), finish, usage


class ChatService:
    """Starts chat turns in any registered mode."""

    def __init__(self, settings: Settings, store: ConversationStore, llm: LLM) -> None:
        self._settings = settings
        self.store = store
        self.llm = llm
        self._modes: dict[ChatMode, ModeHandler] = {ChatMode.chat_normal: NormalChat()}

    def register(self, mode: ChatMode, handler: ModeHandler) -> None:
        """Make a chat mode available."""
        self._modes[mode] = handler

    @property
    def modes(self) -> list[ChatMode]:
        """The chat modes this service answers."""
        return list(self._modes)

    async def start(self, request: ChatRequest) -> ChatTurn:
        """Check the request and load its history; iterate the returned turn for the answer.

        Refusals (bad mode, unknown target, busy model) are raised here, before any answer streams.
        """
        handler = self._modes.get(request.chat_mode)
        if handler is None:
            available = ", ".join(mode.value for mode in self._modes)
            raise InvalidInput(
                f"chat_mode {request.chat_mode.value!r} is not available yet; available: {available}",
                field="chat_mode",
            )
        await handler.check(request)
        question, history = await self._question_and_history(request)
        self.llm.gate.check()
        info = ConversationInfo(
            conv_uid=request.conv_uid or str(uuid.uuid4()),
            chat_mode=request.chat_mode,
            chat_param=request.chat_param,
            user_name=request.user_name,
            sys_code=request.sys_code,
        )
        return ChatTurn(request, question, history, handler, self, info)

    async def complete(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResult:
        """The whole answer at once (the collected stream)."""
        turn = await self.start(request)
        content, finish, usage = await turn.collect(on_delta)
        return ChatResult(
            conv_uid=turn.conv_uid, model=self.llm.model_name, content=content, finish_reason=finish, usage=usage
        )

    async def _question_and_history(self, request: ChatRequest) -> tuple[str, list[ChatMessage]]:
        messages = request.message_list()
        if messages[-1].role != "user":
            raise InvalidInput("the last message must be the user's question", field="messages")
        question = messages[-1].content
        if not question.strip():
            raise InvalidInput("the question must not be empty", field="messages")
        if len(messages) > 1:  # an OpenAI-style full history sent by the caller
            return question, messages[:-1]
        if request.conv_uid is None:
            return question, []
        history = await asyncio.to_thread(self.store.history, request.conv_uid, self._settings.history_messages)
        return question, history
