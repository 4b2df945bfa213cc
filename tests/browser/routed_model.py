"""A scripted chat model that answers by the question it is asked, so one live server can serve every journey."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from tests.scripted import ScriptedChatModel


class RoutedChatModel(ScriptedChatModel):
    """Replies with the answer of the first `routes` keyword found in the last user message (case-insensitive),
    else `fallback`; it streams word by word (GenericFakeChatModel splits the reply), and records every request."""

    routes: dict[str, str] = Field(default_factory=dict)
    fallback: str = "I have no scripted answer for that."

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        self.options.append(dict(kwargs))
        question = next((str(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)), "").lower()
        reply = next((answer for keyword, answer in self.routes.items() if keyword.lower() in question), self.fallback)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])
