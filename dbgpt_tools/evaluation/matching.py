"""Which retrieved chunks are the ones a dataset row expects. The rule, in order of what the row gives:

1. `chunk_ids`: a chunk is relevant when its id is one of them (each id is one expected item);
2. `contexts`: a chunk is relevant to a context when it holds at least 40 consecutive characters of it (all of a
   shorter one) — the whole context, a start or an end of it (a chunk cut inside the passage), or the chunk lies
   wholly inside it — compared with white space collapsed; with `doc_name`/`doc_id` the chunk must also come from
   that document (each context is one expected item);
3. `doc_name` / `doc_id` alone: a chunk is relevant when it comes from that document (one expected item).

DB-GPT itself compares chunk texts for exact equality with the contexts, which a different chunking breaks; this
rule is the one `benchmarks/retrieval_eval.py` scores by, so the API reproduces its figures.
"""

from __future__ import annotations

import re

from dbgpt_tools.evaluation.models import DatasetRow
from dbgpt_tools.knowledge.models import RetrievedChunk

SUBSTANTIAL = 40
"""Characters of an expected context a chunk must hold (or all of a shorter context)."""
_SPACE = re.compile(r"\s+")


def collapse(text: str) -> str:
    """The text with every run of white space made one space, trimmed."""
    return _SPACE.sub(" ", text).strip()


def held(content: str, passage: str) -> int:
    """How many characters of `passage` the chunk `content` holds: all of it, the chunk itself when it lies inside
    the passage, or the longest start or end of the passage found in the chunk."""
    if passage in content:
        return len(passage)
    if content in passage:
        return len(content)
    return max(_longest(content, passage, prefix=True), _longest(content, passage, prefix=False))


def _longest(content: str, passage: str, *, prefix: bool) -> int:
    """The longest start (or end) of `passage` found in `content`: found sizes are closed downwards, so halve."""
    low, high = 0, len(passage)
    while low < high:
        size = (low + high + 1) // 2
        piece = passage[:size] if prefix else passage[-size:]
        if piece in content:
            low = size
        else:
            high = size - 1
    return low


def expected_items(row: DatasetRow) -> int:
    """How many things the row expects to be retrieved (0: the row says nothing about retrieval)."""
    if row.chunk_ids:
        return len(row.chunk_ids)
    if row.contexts:
        return len(row.contexts)
    return 1 if row.doc_name is not None or row.doc_id is not None else 0


def matched(row: DatasetRow, chunk: RetrievedChunk) -> set[int]:
    """The expected items (indexes) this chunk is relevant to."""
    if row.chunk_ids:
        return {index for index, chunk_id in enumerate(row.chunk_ids) if chunk_id == chunk.chunk_id}
    same_document = (row.doc_name is None or chunk.doc_name == row.doc_name) and (
        row.doc_id is None or chunk.doc_id == row.doc_id
    )
    if not same_document:
        return set()
    if not row.contexts:
        return {0} if row.doc_name is not None or row.doc_id is not None else set()
    content = collapse(chunk.content)
    found = set()
    for index, context in enumerate(row.contexts):
        passage = collapse(context)
        if passage and held(content, passage) >= min(SUBSTANTIAL, len(passage)):
            found.add(index)
    return found
