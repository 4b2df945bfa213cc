"""A database schema as introspection describes it: tables, columns, keys, comments, row estimates, samples."""

from __future__ import annotations

from pydantic import BaseModel, Field

ROW_COUNT_CAP = 100_000
"""A table without a catalog estimate is counted up to this many rows; more is stored as `ROW_COUNT_CAP + 1`."""


class ColumnInfo(BaseModel):
    """One column: its declared type as text, keys, comment and a few sample values."""

    name: str
    type: str = Field(description="The declared type as the database spells it ('' when SQLite has none).")
    nullable: bool = True
    primary_key: bool = False
    comment: str | None = None
    samples: list[str] = Field(default_factory=list, description="A few distinct non-null values, truncated.")


class ForeignKeyInfo(BaseModel):
    """A foreign key from `columns` of the owning table to `ref_columns` of `ref_table`."""

    columns: list[str]
    ref_table: str
    ref_columns: list[str]


class TableInfo(BaseModel):
    """One table (or view, whose comment starts with 'view')."""

    name: str
    comment: str | None = None
    row_estimate: int | None = Field(
        default=None, description=f"Approximate rows; {ROW_COUNT_CAP + 1} from a capped count means 'more'."
    )
    columns: list[ColumnInfo] = Field(default_factory=list)
    foreign_keys: list[ForeignKeyInfo] = Field(default_factory=list)


class SchemaInfo(BaseModel):
    """The tables of one database's default schema, in the database's own order (tables, then views)."""

    db_name: str
    dialect: str
    tables: list[TableInfo] = Field(default_factory=list)
