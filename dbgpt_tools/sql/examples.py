"""Verified question-SQL pairs per datasource, the way text-to-SQL tools learn a user's database: added by hand, from
an answer a user marked correct, or bundled with the sample databases. A pair is checked when added (a read-only
statement the safety gate accepts, which runs). For a question, the most similar pairs — by meaning (the question's
embedding) and by words (BM25), fused by reciprocal rank — go into chat_data's prompt within a token budget."""

from __future__ import annotations

import asyncio
import builtins
import logging
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

import bm25s
from pydantic import BaseModel, Field
from sqlalchemy import select

from dbgpt_tools.errors import NotFound
from dbgpt_tools.knowledge.embeddings import Embedder
from dbgpt_tools.knowledge.keywords import tokens
from dbgpt_tools.knowledge.models import aware
from dbgpt_tools.sql.executor import SqlExecutor
from dbgpt_tools.sql.registry import DatasourceRegistry
from dbgpt_tools.sql.safety import check_sql
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import SqlExampleRow

log = logging.getLogger(__name__)
RRF_K = 60
MAX_EXAMPLES = 3
EXAMPLE_BUDGET = 2400
"""Characters of examples a prompt may carry (about 600 tokens)."""
Source = Literal["user", "feedback", "bundled"]


class ExampleIn(BaseModel):
    """A pair to add: the question, and the SQL that answers it on the datasource."""

    question: Annotated[str, Field(min_length=1, max_length=2000, description="The question, in plain language.")]
    sql: Annotated[str, Field(min_length=1, max_length=20_000, description="One read-only statement answering it.")]


class Example(BaseModel):
    """A stored pair."""

    id: int
    datasource: str
    question: str
    sql: str
    source: str
    created_at: datetime


class ExampleList(BaseModel):
    """A datasource's pairs, oldest first."""

    examples: list[Example]


class ExampleStore:
    """The pairs of every datasource."""

    def __init__(
        self, store: MetadataStore, registry: DatasourceRegistry, executor: SqlExecutor, embedder: Embedder
    ) -> None:
        self._store = store
        self._registry = registry
        self._executor = executor
        self._embedder = embedder

    async def add(self, datasource: str | int, example: ExampleIn, source: Source = "user") -> Example:
        """Check the pair (read-only, accepted by the safety gate, runs) and store it."""
        row = await asyncio.to_thread(self._registry.resolve, datasource)
        checked = check_sql(example.sql, row.db_type).sql  # read-only, whatever the datasource allows
        await self._executor.arun_sql(row.id, checked, 1)
        vector = (await asyncio.to_thread(self._embedder.embed, [example.question]))[0]
        stored = SqlExampleRow(
            datasource_id=row.id, question=example.question.strip(), sql=checked, source=source, vector=vector
        )
        await asyncio.to_thread(self._insert, stored)
        log.info("example %s added to %s (%s)", stored.id, row.db_name, source)
        return _example(stored, row.db_name)

    def _insert(self, stored: SqlExampleRow) -> None:
        with self._store.session() as session:
            session.add(stored)
            session.flush()
            session.expunge(stored)

    def list(self, datasource: str | int) -> ExampleList:
        row = self._registry.resolve(datasource)
        return ExampleList(examples=[_example(stored, row.db_name) for stored in self._rows(row.id)])

    def delete(self, datasource: str | int, example_id: int) -> Example:
        row = self._registry.resolve(datasource)
        with self._store.session() as session:
            stored = session.get(SqlExampleRow, example_id)
            if stored is None or stored.datasource_id != row.id:
                raise NotFound(f"no example {example_id} on {row.db_name}", field="example_id")
            session.delete(stored)
            return _example(stored, row.db_name)

    def similar(self, datasource_id: int, question: str, k: int = MAX_EXAMPLES) -> builtins.list[Example]:
        """The `k` pairs most like the question (meaning and words fused), within EXAMPLE_BUDGET characters."""
        rows = self._rows(datasource_id)
        if not rows or k < 1:
            return []
        ranked: dict[int, float] = {}
        for rank, index in enumerate(_by_meaning(self._embedder.embed([question])[0], rows)):
            ranked[index] = ranked.get(index, 0.0) + 1 / (RRF_K + rank + 1)
        for rank, index in enumerate(_by_words(question, rows)):
            ranked[index] = ranked.get(index, 0.0) + 1 / (RRF_K + rank + 1)
        chosen: builtins.list[Example] = []
        size = 0
        for index in sorted(ranked, key=lambda i: ranked[i], reverse=True):
            cost = len(rows[index].question) + len(rows[index].sql)
            if len(chosen) == k or size + cost > EXAMPLE_BUDGET:
                break
            chosen.append(_example(rows[index], ""))
            size += cost
        return chosen

    def _rows(self, datasource_id: int) -> builtins.list[SqlExampleRow]:
        with self._store.session() as session:
            query = select(SqlExampleRow).where(SqlExampleRow.datasource_id == datasource_id)
            return list(session.scalars(query.order_by(SqlExampleRow.id)).all())


def _by_meaning(vector: list[float], rows: Sequence[SqlExampleRow]) -> list[int]:
    """Row indexes by cosine similarity of their question to `vector`, best first."""
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0

    def cosine(other: list[float]) -> float:
        return sum(a * b for a, b in zip(vector, other, strict=True)) / (
            norm * (math.sqrt(sum(b * b for b in other)) or 1.0)
        )

    return sorted(range(len(rows)), key=lambda i: cosine(rows[i].vector), reverse=True)


def _by_words(question: str, rows: Sequence[SqlExampleRow]) -> list[int]:
    """Row indexes sharing words with the question, by BM25 score."""
    corpus = tokens([row.question for row in rows])
    words = tokens([question])
    if not words[0] or not any(corpus):
        return []
    index = bm25s.BM25()
    index.index(corpus, show_progress=False)
    found, scores = index.retrieve(words, k=len(rows), show_progress=False)
    return [int(position) for position, score in zip(found[0], scores[0], strict=True) if score > 0]


def _example(row: SqlExampleRow, datasource: str) -> Example:
    return Example(
        id=row.id,
        datasource=datasource,
        question=row.question,
        sql=row.sql,
        source=row.source,
        created_at=aware(row.created_at),
    )
