"""The result of one SQL statement, as every face receives it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, field_serializer

from dbgpt_tools.sql.json_values import json_rows


class QueryResult(BaseModel):
    """Rows of one SQL statement, capped at `limit_applied` rows (`truncated` when more existed).

    In Python `rows` hold the database driver's values (dates, decimals, bytes); serialised to JSON they are JSON
    values (ISO dates, numbers, hex or "<N bytes>"), converted only then.
    """

    columns: list[str]
    rows: list[Sequence[Any]] = Field(description="Each row's values, in the order of `columns`.")
    row_count: int = Field(description="Rows returned (after the cap).")
    truncated: bool = Field(description="True when the statement produced more rows than the cap.")
    limit_applied: int = Field(description="The row cap that was in force.")
    elapsed_ms: float
    sql: str = Field(description="The statement as executed (cleaned of fences and trailing semicolons).")

    @field_serializer("rows", when_used="json")
    def _json_rows(self, rows: list[Sequence[Any]]) -> list[Sequence[Any]]:
        """In Python the rows hold the driver's values (dates, decimals...); in JSON, JSON values."""
        return json_rows(rows)
