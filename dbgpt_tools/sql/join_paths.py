"""The foreign-key path between the tables a question needs: the schema ranking picks the tables its words match; the
shortest paths
through the foreign keys from the best one to each other one (intermediate tables included) are named as join
conditions, so a small model does not have to find the path through a large schema itself."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dbgpt_tools.sql.schema_context import matched_tables
from dbgpt_tools.sql.schema_models import SchemaInfo

MAX_TABLES = 4
"""Tables a hint connects at most (the best ranked, relevant ones)."""
RELEVANT = 0.5
"""A table is needed when it scores at least this part of the best score."""


@dataclass(frozen=True)
class Join:
    """One foreign key as a join condition."""

    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]

    def condition(self) -> str:
        return " AND ".join(
            f"{self.table}.{column} = {self.ref_table}.{ref}"
            for column, ref in zip(self.columns, self.ref_columns, strict=True)
        )


def _graph(schema: SchemaInfo) -> dict[str, list[tuple[str, Join]]]:
    """Each table's neighbours through a foreign key (either way), with the join."""
    graph: dict[str, list[tuple[str, Join]]] = {table.name: [] for table in schema.tables}
    for table in schema.tables:
        for key in table.foreign_keys:
            if key.ref_table not in graph or key.ref_table == table.name or not key.ref_columns:
                continue
            join = Join(table.name, tuple(key.columns), key.ref_table, tuple(key.ref_columns))
            graph[table.name].append((key.ref_table, join))
            graph[key.ref_table].append((table.name, join))
    return graph


def _path(graph: dict[str, list[tuple[str, Join]]], start: str, goal: str) -> list[Join] | None:
    """The shortest chain of joins from `start` to `goal` (None when they are not connected)."""
    previous: dict[str, tuple[str, Join] | None] = {start: None}
    queue = deque([start])
    while queue:
        table = queue.popleft()
        if table == goal:
            path: list[Join] = []
            while (step := previous[table]) is not None:
                table, join = step
                path.append(join)
            return path[::-1]
        for neighbour, join in graph[table]:
            if neighbour not in previous:
                previous[neighbour] = (table, join)
                queue.append(neighbour)
    return None


def needed_tables(schema: SchemaInfo, question: str) -> list[str]:
    """The tables the question's words point at, best first: the best match and those scoring near it."""
    matched = matched_tables(schema, question)
    if not matched:
        return []
    top = matched[0][1]
    return [table.name for table, score in matched if score >= RELEVANT * top][:MAX_TABLES]


def join_path(schema: SchemaInfo, tables: list[str]) -> list[Join]:
    """The joins connecting `tables` (shortest paths from the first to each other one), without repeats."""
    graph = _graph(schema)
    joins: list[Join] = []
    for goal in tables[1:]:
        for join in _path(graph, tables[0], goal) or []:
            if join not in joins:
                joins.append(join)
    return joins


def join_hint(schema: SchemaInfo, question: str) -> str | None:
    """A line naming the join path between the tables a question needs (None when it needs one table)."""
    joins = join_path(schema, needed_tables(schema, question))
    if not joins:
        return None
    return "-- Join path: " + "; ".join(join.condition() for join in joins)
