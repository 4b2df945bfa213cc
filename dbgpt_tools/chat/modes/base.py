"""What every chat mode is: a check of the request, then an answer streamed from a turn's context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from langchain_core.messages import BaseMessage

from dbgpt_tools.chat.models import ChatChunk, ChatMessage, ChatRequest
from dbgpt_tools.llm.client import LLM
from dbgpt_tools.llm.gate import Admission


@dataclass
class TurnContext:
    """What a mode handler needs to answer one turn."""

    request: ChatRequest
    question: str
    history: list[ChatMessage]
    llm: LLM
    admission: Admission

    async def stream_llm(
        self, messages: list[BaseMessage], default_temperature: float | None = None
    ) -> AsyncIterator[ChatChunk]:
        """Stream the LLM's answer: wait for a generating slot, and give it back as soon as the model is done. The
        request's temperature applies; without one, `default_temperature` (None: the model server's default)."""
        temperature = self.request.temperature if self.request.temperature is not None else default_temperature
        await self.admission.acquire()
        try:
            async for chunk in self.llm.astream(
                messages, temperature=temperature, max_tokens=self.request.max_new_tokens
            ):
                yield chunk
        finally:
            self.admission.release_slot()


class ModeHandler(Protocol):
    """A chat mode: an early check of the request, then the answer as a stream of chunks."""

    async def check(self, request: ChatRequest) -> None:
        """Refuse a bad request (unknown `chat_param`...) before any answer is streamed."""

    def answer(self, turn: TurnContext) -> AsyncIterator[ChatChunk]:
        """Stream the answer (text deltas and artifacts); the last chunk carries the finish reason and usage."""
        ...
