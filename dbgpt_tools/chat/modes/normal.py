"""`chat_normal`: the LLM answers with the conversation so far."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dbgpt_tools.chat.models import ChatChunk, ChatRequest
from dbgpt_tools.chat.modes.base import TurnContext
from dbgpt_tools.chat.prompts import NORMAL_SYSTEM, with_system


class NormalChat:
    """`chat_normal`: the LLM answers with the conversation so far."""

    async def check(self, request: ChatRequest) -> None:
        return None

    def answer(self, turn: TurnContext) -> AsyncIterator[ChatChunk]:
        return turn.stream_llm(with_system(NORMAL_SYSTEM, turn.history, turn.question))
