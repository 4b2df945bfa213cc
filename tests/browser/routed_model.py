"""A scripted chat model that answers by the question it is asked, so one live server can serve every journey."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from tests.scripted import ScriptedChatModel

HOLD_LIMIT_S = 120.0
"""A safety net: a held reply goes on by itself after this long (the test that held it has failed)."""


class RoutedChatModel(ScriptedChatModel):
    """Replies with the answer of the first `routes` keyword found in the last user message (case-insensitive),
    else `fallback`, streamed word by word; every request is recorded.

    A question with a `held` keyword streams its reply's first word, then waits until that keyword's event is set
    before streaming the rest: a test sees what the page shows mid-answer."""

    routes: dict[str, str] = Field(default_factory=dict)
    fallback: str = "I have no scripted answer for that."
    held: dict[str, threading.Event] = Field(default_factory=dict)

    def _question(self, messages: list[BaseMessage]) -> str:
        return next((str(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)), "").lower()

    def _reply(self, messages: list[BaseMessage], **kwargs: Any) -> str:
        self.calls.append(list(messages))
        self.options.append(dict(kwargs))
        question = self._question(messages)
        return next((answer for keyword, answer in self.routes.items() if keyword.lower() in question), self.fallback)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply(messages, **kwargs)))])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        reply = self._reply(messages, **kwargs)
        question = self._question(messages)
        hold = next((event for keyword, event in self.held.items() if keyword.lower() in question), None)
        for index, piece in enumerate(re.split(r"(\s)", reply)):
            if index == 1 and hold is not None:
                await asyncio.to_thread(hold.wait, HOLD_LIMIT_S)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
