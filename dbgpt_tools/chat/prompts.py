"""Prompt texts of the chat modes, in one place, and the message lists a model is sent."""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from dbgpt_tools.chat.models import ChatMessage

NORMAL_SYSTEM = (
    "You are DB-GPT, a helpful assistant. Answer the user's question clearly and concisely. "
    "Use the earlier messages of the conversation when the question refers to them."
)

KNOWLEDGE_SYSTEM = """You answer questions from the documents of the knowledge space {space}.
Use only the numbered excerpts below. Cite the excerpts you used as [1], [2]. If the excerpts do not hold the
answer, say that the documents do not say, instead of guessing.

{excerpts}"""

KNOWLEDGE_EXCERPT = "[{number}] {source}\n{content}"

KNOWLEDGE_NOTHING = (
    "I found nothing about this in the knowledge space {space}, so I cannot answer it from its documents."
)

DATA_SYSTEM = """You are a {dialect} SQL expert working on the database {db_name}.
Write ONE read-only {dialect} query that answers the user's question, using only the tables and columns below.
Reply with the query in a ```sql code block and nothing else.{hints}

{schema}"""

DIALECT_HINTS = {
    "sqlite": (
        "\nSQLite has no YEAR(), MONTH() or DATEDIFF(): dates are TEXT 'YYYY-MM-DD', so use "
        "strftime('%Y', d) (text year), CAST(strftime('%m', d) AS INTEGER) (month number), date(d) and "
        "julianday(d)."
    ),
}

DATA_REPAIR = """The query failed with this error:
{error}{hint}
Write the corrected query in a ```sql code block."""

DATA_COLUMN_HINT = "\nThe column {column} is in: {tables}. Join those tables if needed."

DATA_RESULT = "The query returned {rows}{truncated}."


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
