"""Retrieval quality of the knowledge spaces on the evaluation set (benchmarks/knowledge_eval), and optionally the
end-to-end answers of chat_knowledge with the real local model.

One command: `python -m benchmarks.retrieval_eval [--chunk-size N] [--sweep] [--answers [--limit N]]`.

The 24 documents go into a fresh space through `add_document` + `wait` (default chunk parameters: Automatic, i.e.
markdown headers for md, then size 512 with overlap 50; `--chunk-size`/`--chunk-overlap` change them). Every one
of the 72 questions is then searched in vector, keyword and hybrid mode (top_k=5) and scored by hit@1, hit@5 and
MRR over ranks 1..5 (a question whose passage is not in the top 5 adds 0).

A retrieved chunk is a *hit* when it comes from the question's document and its [start, end) character range
overlaps the passage's range in that document (`text.index(passage)`). That needs the chunks' offsets to be offsets
in the file text: the md loader's full text is the file text with its final newline stripped, so every retrieved
chunk is checked (`text[c.start:c.end] == c.content`); should any fail, the run says so and falls back to "the
chunk holds at least 40 characters of the passage (or all of a shorter one)". A stricter rule is reported beside
it: the overlap is at least 40 characters of the passage (or all of it), so a chunk that only shares the
50-character chunk overlap with the passage's first words counts under the first rule only.

`--sweep` re-runs the hybrid searches with `dbgpt_tools.knowledge.retrieval.RRF_K` and `CANDIDATES` monkeypatched
in this process (nothing outside benchmarks/ is edited), and scores offline fusions of the same vector and keyword
candidate lists (weighted RRF, a convex mix of normalised scores) to show what the core's fusion could do. These
are diagnostics on the evaluation set itself: a setting chosen from them is tuned on the set it is scored on.

`--answers` asks every question (or the first `--limit N`) through `runtime.chat.complete(chat_mode=
chat_knowledge, chat_param=<space>)` with the runtime's default local model (Qwen2.5-Coder-1.5B, files from
~/.cache/dbgpt-tools/models when present, as the tests use), at temperature 0 so that runs repeat. It reports the
share of answers whose references (the ReferencesArtifact: the chunks given to the model) include the passage, the
share whose *cited* excerpts ([n] markers in the text) include it, the share whose text contains the expected
answer (case-insensitive), and the wall time / time to first token per answer (the first answer, which loads the
prompt cache, is left out of the warm medians). Per-question results go to a JSON file under /tmp.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import machine
from benchmarks.knowledge_eval.dataset import Question, load_documents, load_questions
from benchmarks.knowledge_eval.ingest import ingest_all
from dbgpt_tools.chat.models import ChatMode, ChatRequest, ReferencesArtifact
from dbgpt_tools.knowledge import retrieval
from dbgpt_tools.knowledge.chunking import ChunkParameters
from dbgpt_tools.knowledge.models import RetrievedChunk, SearchMode
from dbgpt_tools.knowledge.service import KnowledgeService
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings

SPACE = "eval"
MODES = (SearchMode.vector, SearchMode.keyword, SearchMode.hybrid)
TOP_K = 5
SUBSTANTIAL = 40
"""Characters of a passage a chunk must hold for the strict rule (or all of a shorter passage)."""
MODEL_DIR = Path(os.environ.get("DBGPT_MODEL_DIR", Path.home() / ".cache" / "dbgpt-tools" / "models"))
SWEEP_RRF_K = (60, 30, 10, 3, 1)
SWEEP_CANDIDATES = (1, 2, 4, 8)
POOL = 40
"""Candidates per retriever fetched for the offline fusions of --sweep."""
_CITATION = re.compile(r"\[(\d+)\]")


# --- Scoring ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a question's passage is: its document and character range."""

    doc: str
    start: int
    end: int


@dataclass
class Judge:
    """Decides hits, by offsets while every chunk seen lines up with its document's text, else by content."""

    texts: dict[str, str]
    checked: int = 0
    misaligned: list[str] = field(default_factory=list)

    def check(self, chunks: Sequence[RetrievedChunk]) -> None:
        for chunk in chunks:
            self.checked += 1
            if self.texts[chunk.doc_name][chunk.start : chunk.end] != chunk.content:
                self.misaligned.append(chunk.chunk_id)

    @property
    def by_offsets(self) -> bool:
        return not self.misaligned

    def overlap(self, chunk: RetrievedChunk, target: Target) -> int:
        """Characters of the passage the chunk holds."""
        if chunk.doc_name != target.doc:
            return 0
        if self.by_offsets:
            return max(0, min(chunk.end, target.end) - max(chunk.start, target.start))
        passage = self.texts[target.doc][target.start : target.end]
        return longest_common_piece(chunk.content, passage)

    def hit(self, chunk: RetrievedChunk, target: Target, strict: bool = False) -> bool:
        held = self.overlap(chunk, target)
        if strict or not self.by_offsets:
            return held >= min(SUBSTANTIAL, target.end - target.start)
        return held > 0


def longest_common_piece(content: str, passage: str) -> int:
    """Length of the longest prefix or suffix of `passage` found in `content` (a chunk cut inside a passage holds
    its start or its end), or of the whole passage."""
    if passage in content:
        return len(passage)
    best = 0
    for size in range(len(passage) - 1, 0, -1):
        if passage[:size] in content or passage[-size:] in content:
            best = size
            break
    return best


def first_hit_rank(judge: Judge, chunks: Sequence[RetrievedChunk], target: Target, strict: bool = False) -> int:
    """1-based rank of the first hit among the chunks, 0 when none is."""
    for rank, chunk in enumerate(chunks, start=1):
        if judge.hit(chunk, target, strict):
            return rank
    return 0


def scores(ranks: Sequence[int], top_k: int = TOP_K) -> dict[str, float]:
    """hit@1, hit@k and MRR (over ranks 1..k) of first-hit ranks (0: no hit)."""
    n = len(ranks)
    return {
        "hit@1": round(sum(r == 1 for r in ranks) / n, 4),
        f"hit@{top_k}": round(sum(1 <= r <= top_k for r in ranks) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if 1 <= r <= top_k) / n, 4),
    }


def targets(questions: Sequence[Question], texts: dict[str, str]) -> dict[str, Target]:
    out = {}
    for q in questions:
        start = texts[q.doc].index(q.passage)
        out[q.id] = Target(q.doc, start, start + len(q.passage))
    return out


# --- Ingesting and searching --------------------------------------------------------------------------------


def ingest(knowledge: KnowledgeService, texts: dict[str, str], params: ChunkParameters) -> tuple[int, float]:
    """All documents into a new space; (chunks, seconds)."""
    space = knowledge.spaces.create({"name": SPACE})
    return ingest_all(knowledge, space.id, texts, params)


def search_all(
    knowledge: KnowledgeService, questions: Sequence[Question], mode: SearchMode, top_k: int = TOP_K
) -> tuple[dict[str, list[RetrievedChunk]], list[float]]:
    """Each question's chunks in one mode, and the search times."""
    found: dict[str, list[RetrievedChunk]] = {}
    times: list[float] = []
    for q in questions:
        started = time.perf_counter()
        found[q.id] = knowledge.retriever.search(SPACE, q.question, top_k=top_k, mode=mode).chunks
        times.append(time.perf_counter() - started)
    return found, times


@contextmanager
def fusion(rrf_k: int, candidates: int) -> Iterator[None]:
    """The retriever's fusion constants set for the block (module globals, read at each search)."""
    saved = retrieval.RRF_K, retrieval.CANDIDATES
    retrieval.RRF_K, retrieval.CANDIDATES = rrf_k, candidates
    try:
        yield
    finally:
        retrieval.RRF_K, retrieval.CANDIDATES = saved


def evaluate(
    knowledge: KnowledgeService, questions: Sequence[Question], judge: Judge, where: dict[str, Target]
) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
    """Scores per mode (both hit rules) and each question's first-hit rank per mode."""
    results: dict[str, Any] = {}
    ranks: dict[str, dict[str, int]] = {}
    for mode in MODES:
        found, times = search_all(knowledge, questions, mode)
        for chunks in found.values():
            judge.check(chunks)
        mode_ranks = {q.id: first_hit_rank(judge, found[q.id], where[q.id]) for q in questions}
        strict = [first_hit_rank(judge, found[q.id], where[q.id], strict=True) for q in questions]
        ranks[mode.value] = mode_ranks
        results[mode.value] = {
            **scores(list(mode_ranks.values())),
            "strict": scores(strict),
            "search_p50_ms": round(statistics.median(times) * 1000, 1),
        }
    return results, ranks


# --- --sweep: the fusion's constants, and other fusions of the same candidates --------------------------------


Ranking = list[tuple[RetrievedChunk, float]]
Fuser = Callable[[Ranking, Ranking], list[RetrievedChunk]]


def rrf(k: float, n: int, w_vector: float = 1.0, w_keyword: float = 1.0) -> Fuser:
    """Reciprocal rank fusion of the first `n` of each list, as the retriever fuses (weights 1, 1)."""

    def fuse(vector: Ranking, keyword: Ranking) -> list[RetrievedChunk]:
        score: dict[str, float] = {}
        chunks: dict[str, RetrievedChunk] = {}
        for weight, ranking in ((w_vector, vector[:n]), (w_keyword, keyword[:n])):
            for rank, (chunk, _) in enumerate(ranking):
                score[chunk.chunk_id] = score.get(chunk.chunk_id, 0.0) + weight / (k + rank + 1)
                chunks.setdefault(chunk.chunk_id, chunk)
        return [chunks[c] for c in sorted(score, key=lambda c: score[c], reverse=True)]

    return fuse


def mix(alpha: float, n: int) -> Fuser:
    """alpha * cosine (min-max within the list) + (1 - alpha) * BM25 (divided by the list's best score)."""

    def fuse(vector: Ranking, keyword: Ranking) -> list[RetrievedChunk]:
        score: dict[str, float] = {}
        chunks: dict[str, RetrievedChunk] = {}
        vec, kw = vector[:n], keyword[:n]
        if vec:
            low, high = min(s for _, s in vec), max(s for _, s in vec)
            for chunk, s in vec:
                score[chunk.chunk_id] = alpha * ((s - low) / (high - low) if high > low else 1.0)
                chunks[chunk.chunk_id] = chunk
        if kw:
            best = max(s for _, s in kw) or 1.0
            for chunk, s in kw:
                score[chunk.chunk_id] = score.get(chunk.chunk_id, 0.0) + (1 - alpha) * s / best
                chunks.setdefault(chunk.chunk_id, chunk)
        return [chunks[c] for c in sorted(score, key=lambda c: score[c], reverse=True)]

    return fuse


def sweep(
    knowledge: KnowledgeService, questions: Sequence[Question], judge: Judge, where: dict[str, Target]
) -> dict[str, Any]:
    """Real hybrid searches under other RRF constants, then offline fusions of the same candidate lists."""
    real: dict[str, float] = {}
    for rrf_k in SWEEP_RRF_K:
        for candidates in SWEEP_CANDIDATES:
            with fusion(rrf_k, candidates):
                found, _ = search_all(knowledge, questions, SearchMode.hybrid)
            ranks = [first_hit_rank(judge, found[q.id], where[q.id]) for q in questions]
            real[f"RRF_K={rrf_k} CANDIDATES={candidates}"] = scores(ranks)["mrr"]
    lists: dict[str, tuple[Ranking, Ranking]] = {}
    for q in questions:
        vector = knowledge.retriever.search(SPACE, q.question, top_k=POOL, mode=SearchMode.vector).chunks
        keyword = knowledge.retriever.search(SPACE, q.question, top_k=POOL, mode=SearchMode.keyword).chunks
        lists[q.id] = ([(c, c.rank_score) for c in vector], [(c, c.rank_score) for c in keyword])
    fusers: dict[str, Fuser] = {"rrf k=60 n=20 (the retriever's, replayed)": rrf(60, 20)}
    for w in (1.5, 2.0, 3.0):
        fusers[f"rrf k=60 n=20, vector weight {w}"] = rrf(60, 20, w_vector=w)
        fusers[f"rrf k=10 n=20, vector weight {w}"] = rrf(10, 20, w_vector=w)
    for alpha in (0.5, 0.6, 0.7, 0.8, 0.9):
        fusers[f"score mix alpha={alpha} n=20"] = mix(alpha, 20)
    offline: dict[str, dict[str, float]] = {}
    for name, fuse in fusers.items():
        ranks = [first_hit_rank(judge, fuse(*lists[q.id])[:TOP_K], where[q.id]) for q in questions]
        offline[name] = scores(ranks)
    return {"real_hybrid_mrr": real, "offline": offline}


# --- --answers: chat_knowledge end to end -------------------------------------------------------------------


async def ask(
    runtime: Runtime, question: str, max_tokens: int | None
) -> tuple[str, list[RetrievedChunk], float, float, int]:
    """(answer text, its references, wall seconds, seconds to first token, tokens) of one chat_knowledge answer."""
    started = time.perf_counter()
    first: list[float] = []

    async def on_delta(_delta: str) -> None:
        if not first:
            first.append(time.perf_counter() - started)

    request = ChatRequest(
        messages=question, chat_mode=ChatMode.chat_knowledge, chat_param=SPACE, temperature=0, max_new_tokens=max_tokens
    )
    result = await runtime.chat.complete(request, on_delta)
    wall = time.perf_counter() - started
    references = [c for a in result.artifacts if isinstance(a, ReferencesArtifact) for c in a.chunks]
    return result.content, references, wall, first[0] if first else wall, result.usage.completion_tokens


def answers(
    runtime: Runtime, questions: Sequence[Question], judge: Judge, where: dict[str, Target], max_tokens: int | None
) -> dict[str, Any]:
    """Every question through chat_knowledge, in order on one event loop."""
    started = time.perf_counter()
    runtime.llm.endpoint()  # load the model before the first answer's clock starts
    load_s = time.perf_counter() - started
    records: list[dict[str, Any]] = []

    async def run_all() -> None:
        for q in questions:
            content, references, wall, ttft, tokens = await ask(runtime, q.question, max_tokens)
            cited = {int(n) for n in _CITATION.findall(content)}
            cited_chunks = [c for i, c in enumerate(references, start=1) if i in cited]
            references_hit = any(judge.hit(c, where[q.id]) for c in references)
            cited_hit = any(judge.hit(c, where[q.id]) for c in cited_chunks)
            answer_ok = q.answer.lower() in content.lower()
            record = {
                "id": q.id,
                "references_hit": references_hit,
                "cited_hit": cited_hit,
                "answer_ok": answer_ok,
                "references": len(references),
                "cited": sorted(cited),
                "wall_s": round(wall, 2),
                "ttft_s": round(ttft, 2),
                "tokens": tokens,
                "answer": content,
            }
            records.append(record)
            mark = {True: "ok", False: "--"}
            print(
                f"{q.id} refs {mark[references_hit]} cited {mark[cited_hit]} answer {mark[answer_ok]}"
                f"  wall {wall:5.1f} s  ttft {ttft:4.1f} s",
                flush=True,
            )

    total_started = time.perf_counter()
    asyncio.run(run_all())
    total_s = time.perf_counter() - total_started
    n = len(records)
    warm = records[1:] or records
    return {
        "n": n,
        "model": runtime.settings.local_model,
        "load_s": round(load_s, 1),
        "references_hit": round(sum(r["references_hit"] for r in records) / n, 4),
        "cited_hit": round(sum(r["cited_hit"] for r in records) / n, 4),
        "answer_contains": round(sum(r["answer_ok"] for r in records) / n, 4),
        "wall_p50_s": round(statistics.median(r["wall_s"] for r in records), 2),
        "wall_warm_p50_s": round(statistics.median(r["wall_s"] for r in warm), 2),
        "ttft_warm_p50_s": round(statistics.median(r["ttft_s"] for r in warm), 2),
        "tokens_p50": statistics.median(r["tokens"] for r in records),
        "first_wall_s": records[0]["wall_s"],
        "total_s": round(total_s, 1),
        "records": records,
    }


# --- Reporting ----------------------------------------------------------------------------------------------


def print_report(report: dict[str, Any]) -> None:
    print(f"machine: {report['machine']}")
    print(
        f"{report['documents']} documents, {report['chunks']} chunks ({report['chunk_parameters']}), ingested in "
        f"{report['ingest_s']} s; {report['questions']} questions, top_k={TOP_K}"
    )
    rule = "offsets overlap" if report["hit_rule"] == "offsets" else f"content holds >= {SUBSTANTIAL} chars"
    print(f"hit rule: {rule}; {report['chunks_checked']} retrieved chunks checked, {report['misaligned']} misaligned")
    print(f"{'mode':8} {'hit@1':>6} {'hit@5':>6} {'MRR':>6}   strict: {'hit@1':>6} {'hit@5':>6} {'MRR':>6}  {'p50':>7}")
    for mode in MODES:
        r = report["modes"][mode.value]
        s = r["strict"]
        print(
            f"{mode.value:8} {r['hit@1']:6.3f} {r['hit@5']:6.3f} {r['mrr']:6.3f}           {s['hit@1']:6.3f} "
            f"{s['hit@5']:6.3f} {s['mrr']:6.3f}  {r['search_p50_ms']:5.1f}ms"
        )
    verdict = "yes" if report["hybrid_beats_both"] else "NO"
    print(f"hybrid MRR above both vector and keyword (the issue's requirement): {verdict}")
    wins = report["per_question"]
    print(
        f"per question, first-hit rank: hybrid better than vector {wins['hybrid>vector']}, worse "
        f"{wins['hybrid<vector']}; better than keyword {wins['hybrid>keyword']}, worse {wins['hybrid<keyword']}; "
        f"found by neither vector nor keyword in the top 5: {wins['neither']}"
    )
    gaps = "; ".join(
        f"{name} {mean:+.3f} [{low:+.3f}, {high:+.3f}]" for name, (mean, low, high) in report["mrr_gap_95"].items()
    )
    print(f"MRR difference, paired bootstrap 95% interval over the questions: {gaps}")
    if "sweep" in report:
        print("hybrid MRR with the retriever's constants monkeypatched (real searches):")
        for name, mrr in report["sweep"]["real_hybrid_mrr"].items():
            print(f"  {name:28} {mrr:.3f}")
        print("offline fusions of the same candidate lists (top 5 scored):")
        for name, s in report["sweep"]["offline"].items():
            print(f"  {name:44} hit@1 {s['hit@1']:.3f} hit@5 {s['hit@5']:.3f} MRR {s['mrr']:.3f}")
    if "answers" in report:
        a = report["answers"]
        print(
            f"chat_knowledge, {a['model']} (loaded in {a['load_s']} s), {a['n']} questions: references hold the "
            f"passage {a['references_hit']:.1%}, cited excerpts hold it {a['cited_hit']:.1%}, answer text contains "
            f"the expected answer {a['answer_contains']:.1%}; wall p50 {a['wall_p50_s']} s (warm {a['wall_warm_p50_s']}"
            f" s, first {a['first_wall_s']} s), warm ttft p50 {a['ttft_warm_p50_s']} s, {a['tokens_p50']} tokens p50; "
            f"{a['total_s']} s in all"
        )


def compare(ranks: dict[str, dict[str, int]]) -> dict[str, int]:
    """How often hybrid's first hit is above / below each single mode's (0 = not in the top 5)."""

    def key(rank: int) -> int:
        return rank if rank else TOP_K + 1

    hybrid = ranks["hybrid"]
    out = {}
    for other in ("vector", "keyword"):
        out[f"hybrid>{other}"] = sum(key(hybrid[q]) < key(ranks[other][q]) for q in hybrid)
        out[f"hybrid<{other}"] = sum(key(hybrid[q]) > key(ranks[other][q]) for q in hybrid)
    out["neither"] = sum(not ranks["vector"][q] and not ranks["keyword"][q] for q in hybrid)
    return out


def mrr_gaps(ranks: dict[str, dict[str, int]], resamples: int = 10_000) -> dict[str, list[float]]:
    """Paired bootstrap (questions resampled) 95% interval of hybrid's MRR minus each single mode's."""
    rng = random.Random(0)
    ids = list(ranks["hybrid"])

    def rr(mode: str, q: str) -> float:
        rank = ranks[mode][q]
        return 1 / rank if 1 <= rank <= TOP_K else 0.0

    out = {}
    for other in ("vector", "keyword"):
        gaps = [rr("hybrid", q) - rr(other, q) for q in ids]
        means = sorted(sum(rng.choice(gaps) for _ in ids) / len(ids) for _ in range(resamples))
        out[f"hybrid-{other}"] = [
            round(sum(gaps) / len(gaps), 4),
            round(means[int(0.025 * resamples)], 4),
            round(means[int(0.975 * resamples)], 4),
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunk-size", type=int, default=None, help="chunk_size (default: ChunkParameters')")
    parser.add_argument("--chunk-overlap", type=int, default=None, help="chunk_overlap (default: ChunkParameters')")
    parser.add_argument("--sweep", action="store_true", help="also try other fusion constants and fusions")
    parser.add_argument("--answers", action="store_true", help="also answer through chat_knowledge, real local model")
    parser.add_argument("--limit", type=int, default=None, help="--answers: only the first N questions")
    parser.add_argument(
        "--max-tokens", type=int, default=None, help="--answers: cap on tokens (default: the runtime's)"
    )
    parser.add_argument("--out", default=None, help="JSON results file (default: /tmp/retrieval-eval-<time>.json)")
    args = parser.parse_args()
    given = {"chunk_size": args.chunk_size, "chunk_overlap": args.chunk_overlap}
    params = ChunkParameters(**{k: v for k, v in given.items() if v is not None})
    out = Path(args.out or f"/tmp/retrieval-eval-{time.strftime('%Y%m%d-%H%M%S')}.json")
    texts = load_documents()
    questions = load_questions()
    where = targets(questions, texts)
    judge = Judge(texts)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = MODEL_DIR if MODEL_DIR.is_dir() else None
        settings = Settings(data_dir=Path(tmp), sample_db=False, sample_space=False, model_dir=model_dir)
        runtime = Runtime(settings)
        try:
            chunks, ingest_s = ingest(runtime.knowledge, texts, params)
            modes, ranks = evaluate(runtime.knowledge, questions, judge, where)
            report: dict[str, Any] = {
                "machine": machine(),
                "documents": len(texts),
                "questions": len(questions),
                "chunks": chunks,
                "chunk_parameters": f"size {params.chunk_size}, overlap {params.chunk_overlap}, "
                f"{params.chunk_strategy.value}",
                "ingest_s": round(ingest_s, 1),
                "hit_rule": "offsets" if judge.by_offsets else "content",
                "chunks_checked": judge.checked,
                "misaligned": len(judge.misaligned),
                "modes": modes,
                "hybrid_beats_both": modes["hybrid"]["mrr"] > max(modes["vector"]["mrr"], modes["keyword"]["mrr"]),
                "per_question": compare(ranks),
                "mrr_gap_95": mrr_gaps(ranks),
                "ranks": ranks,
            }
            if args.sweep:
                report["sweep"] = sweep(runtime.knowledge, questions, judge, where)
            if args.answers:
                asked = questions[: args.limit] if args.limit else questions
                report["answers"] = answers(runtime, asked, judge, where, args.max_tokens)
        finally:
            runtime.close()
    out.write_text(json.dumps(report, indent=1))
    print_report(report)
    print(f"results: {out}")
    keys = ("machine", "chunks", "chunk_parameters", "hit_rule", "hybrid_beats_both", "mrr_gap_95")
    summary = {key: report[key] for key in keys}
    summary["modes"] = {mode: {k: v for k, v in r.items() if k != "strict"} for mode, r in report["modes"].items()}
    if "answers" in report:
        summary["answers"] = {k: v for k, v in report["answers"].items() if k != "records"}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
