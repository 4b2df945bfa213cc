"""The result of one SQL statement, as every face receives it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer

from dbgpt_tools.sql.json_values import json_rows

Rows = Annotated[list[Sequence[Any]], PlainSerializer(json_rows, when_used="json")]
"""Rows holding the database driver's values (dates, decimals, bytes) in Python, and JSON values (ISO dates,
numbers, hex or "<N bytes>") once serialised to JSON, converted only then."""


class QueryResult(BaseModel):
    """Rows of one SQL statement, capped at `limit_applied` rows (`truncated` when more existed)."""

    columns: list[str] = Field(description="Column names in order (a name may repeat).")
    rows: Rows = Field(description="Each row's values, in the order of `columns`.")
    row_count: int = Field(description="Rows returned (after the cap).")
    truncated: bool = Field(description="True when the statement produced more rows than the cap.")
    limit_applied: int = Field(description="The row cap that was in force.")
    elapsed_ms: float
    sql: str = Field(description="The statement as executed (cleaned of fences and trailing semicolons).")
