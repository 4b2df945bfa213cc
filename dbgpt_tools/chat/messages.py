"""Our chat messages as the LangChain messages a model is sent."""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from dbgpt_tools.chat.models import ChatMessage


def to_langchain(messages: list[ChatMessage]) -> list[BaseMessage]:
    """Our messages as LangChain messages."""
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.content) for m in messages]


def with_system(system: str, history: list[ChatMessage], question: str) -> list[BaseMessage]:
    """System prompt (unless the caller sent one), earlier turns, then the question."""
    messages = (
        history
        if any(m.role == "system" for m in history)
        else [
            ChatMessage(role="system", content=system),
            *history,
        ]
    )
    return to_langchain([*messages, ChatMessage(role="user", content=question)])
