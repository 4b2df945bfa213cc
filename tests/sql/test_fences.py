"""SQL in a model's answer: fenced blocks whatever their language tag, the words around them, a leading `SQL:`
label, invisible characters and final semicolons; chat_data takes the last block, else the bare query."""

from __future__ import annotations

import pytest

from dbgpt_tools.chat.modes.data import extract_sql
from dbgpt_tools.sql.fences import clean_sql, fenced_blocks, outside_fences, strip_sql


@pytest.mark.parametrize(
    ("answer", "blocks"),
    [
        ("```sql\nSELECT 1;\n```", ["SELECT 1"]),
        ("```SQLite\nSELECT 1\n```", ["SELECT 1"]),
        ("```postgresql\nSELECT 1\n```\nthen\n```\nSELECT 2;;\n```", ["SELECT 1", "SELECT 2"]),
        ("```python\nprint(1)\n```", ["print(1)"]),  # any word alone on the fence's line is a tag
        ("```sql SELECT 1```", ["SELECT 1"]),  # one line
        ("```sql\nSELECT 1\n", ["SELECT 1"]),  # an unclosed last fence runs to the end
        ("```sql\n\n```\n```sql\n  \n```", []),  # empty blocks are dropped
        ("no fence at all", []),
    ],
)
def test_fenced_blocks(answer: str, blocks: list[str]) -> None:
    assert fenced_blocks(answer) == blocks


def test_the_words_around_the_query_and_its_cleaning() -> None:
    assert outside_fences("I will count them.\n```sql\nSELECT 1\n```\nDone.") == "I will count them.\n\nDone."
    assert strip_sql("\ufeff SQL: SELECT 1 ;; ") == "SELECT 1"
    assert clean_sql("```sql\nSELECT 1\n```\n```sql\nDROP TABLE t\n```") == "SELECT 1;\nDROP TABLE t"  # both seen


@pytest.mark.parametrize(
    ("answer", "sql"),
    [
        ("First try:\n```sql\nSELECT 1\n```\nBetter:\n```sql\nSELECT 2;\n```", "SELECT 2"),
        ("The query is SELECT name FROM regions;", "SELECT name FROM regions"),
        ("with t as (select 1) select * from t", "with t as (select 1) select * from t"),
        ("I cannot answer that from this database.", None),
        ("```sql\n;\n```", None),
    ],
)
def test_chat_data_takes_the_last_block_else_the_bare_query(answer: str, sql: str | None) -> None:
    assert extract_sql(answer) == sql
