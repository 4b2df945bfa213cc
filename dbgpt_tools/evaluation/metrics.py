"""The metrics, under DB-GPT's names where DB-GPT has them. Retrieval metrics score the ranked chunks against what
the row expects (see `matching`); answer metrics score an app's answer, by the model (relevancy, faithfulness:
asked at temperature 0, the judging model named in the results) or by text (exact match, contains)."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from langchain_core.messages import HumanMessage

from dbgpt_tools.evaluation.matching import collapse, expected_items, matched
from dbgpt_tools.evaluation.models import DatasetRow
from dbgpt_tools.knowledge.embeddings import Embedder
from dbgpt_tools.knowledge.models import RetrievedChunk
from dbgpt_tools.llm.client import LLM

RELEVANCY_PROMPT = """You grade the answer of a question-answering system, strictly.
Give one score from 0 to 5 on the first line, and your reason on the second line; nothing else.
0: the answer is an error message or empty. 1: it is unrelated to the question and the references.
2: it is somewhat related but vague. 3: it is related and partly right. 4: it is related, right and complete.
5: it is right, complete and adds useful advice.

Question:
{query}

References:
{context}

Answer:
{answer}"""
FAITHFULNESS_PROMPT = """Excerpts:
{context}

Statements:
{claims}

For each statement, write its number and "yes" if the excerpts support it, or "no" if they do not, one per line.
"""
RELEVANT_ANSWER = 3.0
"""AnswerRelevancyMetric passes from this score (of 5)."""
SIMILAR = 0.5
"""RetrieverSimilarityMetric passes from this mean cosine similarity."""
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_VERDICT = re.compile(r"(\d+)\W+(yes|no)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Sample:
    """What one row produced: the ranked chunks (recall, or an app's references) and the answer (app)."""

    row: DatasetRow
    chunks: list[RetrievedChunk]
    answer: str | None


@dataclass(frozen=True)
class Judges:
    """What metrics may use: the embedding model, the LLM, and a judge prompt the caller gave."""

    embedder: Embedder
    llm: LLM
    prompt: str | None


@dataclass(frozen=True)
class Score:
    value: float
    passing: bool
    feedback: str | None = None


Compute = Callable[[Sample, Judges], Awaitable[Score]]


@dataclass(frozen=True)
class Metric:
    """A metric: its name, what it scores (retrieved chunks or an answer), whether a model judges, and how."""

    name: str
    kind: Literal["retrieval", "answer"]
    description: str
    compute: Compute
    judged: bool = False


def _ranks(sample: Sample) -> list[set[int]]:
    return [matched(sample.row, chunk) for chunk in sample.chunks]


def _no_expectation(sample: Sample) -> Score | None:
    if expected_items(sample.row):
        return None
    return Score(0.0, False, "the row gives no contexts, chunk_ids or document to look for")


async def hit_rate(sample: Sample, judges: Judges) -> Score:
    if (missing := _no_expectation(sample)) is not None:
        return missing
    hit = any(_ranks(sample))
    return Score(1.0 if hit else 0.0, hit)


async def reciprocal_rank(sample: Sample, judges: Judges) -> Score:
    if (missing := _no_expectation(sample)) is not None:
        return missing
    rank = next((rank for rank, found in enumerate(_ranks(sample), start=1) if found), 0)
    return Score(1 / rank if rank else 0.0, rank > 0, f"first relevant chunk at rank {rank}" if rank else None)


async def recall(sample: Sample, judges: Judges) -> Score:
    if (missing := _no_expectation(sample)) is not None:
        return missing
    found = set().union(*_ranks(sample)) if sample.chunks else set()
    share = len(found) / expected_items(sample.row)
    return Score(share, share > 0, f"{len(found)} of {expected_items(sample.row)} expected items retrieved")


async def ndcg(sample: Sample, judges: Judges) -> Score:
    if (missing := _no_expectation(sample)) is not None:
        return missing
    seen: set[int] = set()
    gain = 0.0
    for rank, found in enumerate(_ranks(sample), start=1):
        if found - seen:  # a chunk counts when it brings an expected item no earlier chunk brought
            gain += 1 / math.log2(rank + 1)
            seen |= found
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(expected_items(sample.row), len(sample.chunks)) + 1))
    value = gain / ideal if ideal else 0.0
    return Score(value, value > 0)


async def similarity(sample: Sample, judges: Judges) -> Score:
    if not sample.row.contexts or not sample.chunks:
        return Score(0.0, False, "needs an expected context and retrieved chunks")
    vectors = judges.embedder.embed([sample.row.contexts[0], *(chunk.content for chunk in sample.chunks)])
    expected, found = vectors[0], vectors[1:]
    value = sum(_cosine(expected, vector) for vector in found) / len(found)
    return Score(value, value >= SIMILAR)


def _cosine(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def _references(sample: Sample) -> str:
    texts = [chunk.content for chunk in sample.chunks] or sample.row.contexts
    return "\n\n".join(f"[{number}] {text}" for number, text in enumerate(texts, start=1)) or "(none)"


async def answer_relevancy(sample: Sample, judges: Judges) -> Score:
    if not sample.answer:
        return Score(0.0, False, "no answer")
    template = judges.prompt or RELEVANCY_PROMPT
    prompt = template.replace("{query}", sample.row.query).replace("{answer}", sample.answer)
    reply = await judges.llm.generate([HumanMessage(prompt.replace("{context}", _references(sample)))], max_tokens=96)
    number = _NUMBER.search(reply)
    if number is None:
        return Score(0.0, False, f"the judge gave no score: {reply.strip()[:200]}")
    value = min(5.0, max(0.0, float(number.group())))
    return Score(value, value >= RELEVANT_ANSWER, reply[number.end() :].strip()[:500] or None)


def claims(answer: str) -> list[str]:
    """The answer's statements: its sentences of three words or more."""
    return [part.strip() for part in _SENTENCE.split(answer) if len(part.split()) >= 3]


async def faithfulness(sample: Sample, judges: Judges) -> Score:
    statements = claims(sample.answer or "")
    if not statements:
        return Score(1.0, True, "the answer makes no statement to check")
    if not sample.chunks and not sample.row.contexts:
        return Score(0.0, False, "nothing retrieved to check the answer against")
    numbered = "\n".join(f"{number}. {claim}" for number, claim in enumerate(statements, start=1))
    prompt = FAITHFULNESS_PROMPT.format(context=_references(sample), claims=numbered)
    reply = await judges.llm.generate([HumanMessage(prompt)], max_tokens=8 * len(statements) + 16)
    verdicts = {int(number): word.lower() == "yes" for number, word in _VERDICT.findall(reply)}
    supported = [verdicts.get(number, False) for number in range(1, len(statements) + 1)]
    value = sum(supported) / len(statements)
    unsupported = [claim for claim, ok in zip(statements, supported, strict=True) if not ok]
    return Score(value, value >= 0.5, ("not supported: " + " | ".join(unsupported))[:500] if unsupported else None)


def _normal(text: str) -> str:
    return collapse(text).casefold().strip(" .!?\"'")


async def exact_match(sample: Sample, judges: Judges) -> Score:
    if sample.row.expected_answer is None:
        return Score(0.0, False, "the row gives no expected answer")
    same = _normal(sample.answer or "") == _normal(sample.row.expected_answer)
    return Score(1.0 if same else 0.0, same)


async def contains(sample: Sample, judges: Judges) -> Score:
    if sample.row.expected_answer is None:
        return Score(0.0, False, "the row gives no expected answer")
    found = _normal(sample.row.expected_answer) in _normal(sample.answer or "")
    return Score(1.0 if found else 0.0, found)


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("RetrieverHitRateMetric", "retrieval", "1 when a relevant chunk is among those retrieved", hit_rate),
        Metric("RetrieverMRRMetric", "retrieval", "1 / rank of the first relevant chunk (0 if none)", reciprocal_rank),
        Metric("RetrieverRecallMetric", "retrieval", "share of the expected items retrieved (recall@k)", recall),
        Metric("RetrieverNDCGMetric", "retrieval", "nDCG@k with binary relevance", ndcg),
        Metric(
            "RetrieverSimilarityMetric",
            "retrieval",
            "mean cosine similarity of the retrieved chunks to the first expected context",
            similarity,
        ),
        Metric("AnswerRelevancyMetric", "answer", "the model grades the answer 0-5", answer_relevancy, judged=True),
        Metric(
            "AnswerFaithfulnessMetric",
            "answer",
            "share of the answer's statements the retrieved chunks support, as the model judges",
            faithfulness,
            judged=True,
        ),
        Metric("AnswerExactMatchMetric", "answer", "1 when the answer is the expected answer", exact_match),
        Metric("AnswerContainsMetric", "answer", "1 when the answer contains the expected answer", contains),
    )
}
DEFAULT_METRICS = {
    "recall": ["RetrieverHitRateMetric", "RetrieverMRRMetric"],
    "app": ["AnswerRelevancyMetric"],
}
