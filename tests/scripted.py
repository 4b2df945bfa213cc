"""A scripted LangChain chat model that answers from a list and records what it was sent."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any, Self

import httpx2
import openai
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import Field


class ScriptedChatModel(GenericFakeChatModel):
    """Answers with the scripted replies in order; `calls` keeps the messages of every request."""

    calls: list[list[BaseMessage]] = Field(default_factory=list)
    options: list[dict[str, Any]] = Field(default_factory=list)
    """The options (temperature, max_tokens, and stop when given) of every request."""
    model_name: str = "scripted"

    @classmethod
    def replying(cls, *replies: str) -> Self:
        return cls(messages=iter(replies))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        self.options.append({**kwargs, "stop": stop} if stop else dict(kwargs))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def texts(self, call: int = -1) -> list[str]:
        """The message contents of one recorded request."""
        return [str(m.content) for m in self.calls[call]]


class BrokenStreamModel(ScriptedChatModel):
    """Streams one piece, then loses its connection to the LLM endpoint."""

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.calls.append(list(messages))
        yield ChatGenerationChunk(message=AIMessageChunk(content="partial "))
        raise openai.APIConnectionError(request=httpx2.Request("POST", "http://llm.invalid/v1/chat/completions"))


class StallingModel(ScriptedChatModel):
    """Streams one word, then stalls until cancelled: `started` is set once the word is out, `cancelled` when the
    stall was cancelled (events, so a test in another thread can wait on them)."""

    started: threading.Event = Field(default_factory=threading.Event)
    cancelled: threading.Event = Field(default_factory=threading.Event)

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        yield ChatGenerationChunk(message=AIMessageChunk(content="Partial"))
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        yield ChatGenerationChunk(message=AIMessageChunk(content=" never"))


class FloodingModel(ScriptedChatModel):
    """Streams 64 KiB pieces for as long as it is read; `stopped` is set when its stream is closed or cancelled."""

    stopped: threading.Event = Field(default_factory=threading.Event)

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        try:
            while True:
                yield ChatGenerationChunk(message=AIMessageChunk(content="x" * 65536))
                await asyncio.sleep(0)
        finally:
            self.stopped.set()
