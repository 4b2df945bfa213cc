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

DATA_SYSTEM = """You are a {dialect} SQL expert.
Write ONE read-only {dialect} query that answers the user's question, using only the tables and columns of the
database below. Reply with the query in a ```sql code block and nothing else.{hints}
{guide}
The database {db_name}:
{schema}"""
"""chat_data's system prompt: what does not depend on the database comes first, so the model's prompt cache serves
that part for every database of a dialect (a database seen for the first time costs only its schema)."""

DIALECT_HINTS = {
    "sqlite": (
        "\nSQLite has no YEAR(), MONTH() or DATEDIFF(): dates are TEXT 'YYYY-MM-DD', so use "
        "strftime('%Y', d) (text year), CAST(strftime('%m', d) AS INTEGER) (month number), "
        "strftime('%Y-%m', d) (year and month), date(d) and julianday(d2) - julianday(d1) (days between)."
    ),
    "postgresql": (
        "\nIn PostgreSQL use EXTRACT(YEAR FROM d), to_char(d, 'YYYY-MM'), date_trunc('month', d) and d2 - d1 (days "
        "between two dates); cast to numeric before ROUND(x, 2)."
    ),
    "mysql": "\nIn MySQL use YEAR(d), MONTH(d), DATE_FORMAT(d, '%Y-%m') and DATEDIFF(d2, d1) (days between).",
    "duckdb": (
        "\nIn DuckDB use year(d), month(d), strftime(d, '%Y-%m'), date_trunc('month', d) and date_diff('day', d1, d2)."
    ),
}

DATA_GUIDE = """Patterns:
- Top N per group ("the top 3 X in each Y", "which X had the most in each Y"): a CTE with ROW_NUMBER() OVER
  (PARTITION BY Y ORDER BY the measure DESC) AS rn, then WHERE rn <= N; never one LIMIT for all groups.
- An aggregate cannot go in WHERE, and a computed column cannot be used by its alias in the same SELECT: compute
  them in a CTE (or subquery) first, then compare or combine them.
- Share of a total: 100.0 * part / (SELECT total ...) or SUM(x) OVER (); write 100.0, not 100, so the division is
  not an integer division.
- Change over the previous year or month, running totals: a CTE with one row per period, then
  LAG(total) OVER (ORDER BY period) or SUM(total) OVER (ORDER BY period).
- A column belongs to the table it is listed under: to filter or group by a column of another table, join it.
- Filter on the values a column really holds (its comment or examples), not on guessed ones.
"""

DATA_DETAILS = """The tables this question most likely needs, in detail:
{details}

{question}"""

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
