"""Ingestion throughput: chunks/s of `add_document` + `wait` end to end against the raw embedding throughput of the
same chunk texts, side by side in one process (target: end to end >= 0.8 x raw, at the median).

One command: `python -m benchmarks.ingestion [--rounds 3] [--docs N]`.

The chunk texts are computed once with the loader and chunker the ingestion uses (`load_sections(..., "md")`,
`split_sections(..., ChunkParameters())`) from the 24 documents of benchmarks/knowledge_eval. Each round runs,
in alternating order:
  (a) end to end: a new space, `add_document(space, name, content=text)` for every document, then `wait` for each
      (the ingestion thread embeds 32 chunks a batch, upserts them into Chroma, records progress, makes the
      document live and rebuilds the space's keyword index); chunks / (first add -> last FINISHED seen).
      `wait` polls every 0.25 s, so the end may be seen up to 0.25 s late;
  (b) raw embedding: a separate `LocalEmbedder()` (1 thread, as the runtime's default) embeds exactly the same
      texts in the same batches of 32 (each document's chunks in order, 32 at a time, as the ingestion cuts them);
  (c) for the breakdown: the same vectors upserted into a scratch Chroma collection through `VectorStore.add`,
      in the same batches.
Chunking alone (loader + splitter) is timed once per round too, and the keyword-index rebuilds the ingestion
triggers (one per document going live, each over the whole space) are timed by wrapping `Retriever.prepare`.
A warm-up round (one document, and one batch through each embedder) loads both embedding sessions first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import machine
from benchmarks.knowledge_eval.dataset import load_documents
from benchmarks.knowledge_eval.ingest import ingest_all
from dbgpt_tools.knowledge.chunking import ChunkParameters, split_sections
from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.knowledge.ingestion import BATCH
from dbgpt_tools.knowledge.loaders import load_sections
from dbgpt_tools.knowledge.service import KnowledgeService
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings

TARGET = 0.8


def chunk_texts(texts: dict[str, str]) -> dict[str, list[str]]:
    """Each document's chunk texts, as the ingestion cuts them (md, default parameters)."""
    params = ChunkParameters()
    return {
        name: [chunk.content for chunk in split_sections(load_sections(text.encode(), "md"), "md", params)]
        for name, text in texts.items()
    }


def batches(chunks: dict[str, list[str]]) -> list[list[str]]:
    """The embedding batches of the ingestion: each document's chunks, BATCH at a time."""
    return [texts[start : start + BATCH] for texts in chunks.values() for start in range(0, len(texts), BATCH)]


def end_to_end(knowledge: KnowledgeService, texts: dict[str, str], name: str) -> tuple[int, float]:
    """(chunks, seconds) of ingesting every document into a new space, until the last one is FINISHED."""
    space = knowledge.spaces.create({"name": name})
    total, elapsed = ingest_all(knowledge, space.id, texts)
    knowledge.ingestor.submit(0).result()  # let the last keyword rebuild finish (an unknown id: a no-op job)
    knowledge.spaces.delete(space.id)
    return total, elapsed


def raw_embedding(embedder: LocalEmbedder, parts: list[list[str]]) -> tuple[list[list[float]], float]:
    started = time.perf_counter()
    vectors = [vector for batch in parts for vector in embedder.embed(batch)]
    return vectors, time.perf_counter() - started


def chroma_only(
    knowledge: KnowledgeService, space_id: int, parts: list[list[str]], vectors: list[list[float]]
) -> float:
    """Seconds to upsert the vectors with their texts, batch by batch, into a scratch collection."""
    knowledge.vectors.drop(space_id)
    started = time.perf_counter()
    position = 0
    for number, batch in enumerate(parts):
        ids = [f"b{number}-{i}" for i in range(len(batch))]
        metadata: list[dict[str, str | int]] = [{"doc_id": 0, "generation": 1, "index": i} for i in range(len(batch))]
        knowledge.vectors.add(space_id, ids, vectors[position : position + len(batch)], batch, metadata)
        position += len(batch)
    elapsed = time.perf_counter() - started
    knowledge.vectors.drop(space_id)
    return elapsed


def timed_prepare(knowledge: KnowledgeService, log: list[float]) -> None:
    """Record how long each keyword-index rebuild takes (the ingestion calls it after a document goes live)."""
    original: Callable[[int], None] = knowledge.retriever.prepare

    def prepare(space_id: int) -> None:
        started = time.perf_counter()
        original(space_id)
        log.append(time.perf_counter() - started)

    knowledge.retriever.prepare = prepare  # type: ignore[method-assign]  # an instance attribute, for timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docs", type=int, default=None, help="only the first N documents (name order)")
    args = parser.parse_args()
    texts = load_documents()
    if args.docs:
        texts = dict(list(texts.items())[: args.docs])
    chunks = chunk_texts(texts)
    parts = batches(chunks)
    total_chunks = sum(len(c) for c in chunks.values())
    times: dict[str, list[float]] = {"end_to_end": [], "raw_embedding": [], "chroma_add": [], "chunking": []}
    rebuilds: list[float] = []
    rebuilds_per_round: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(Settings(data_dir=Path(tmp), sample_db=False, sample_space=False))
        knowledge = runtime.knowledge
        embedder = LocalEmbedder()
        try:
            first = next(iter(texts))
            end_to_end(knowledge, {first: texts[first]}, "warm-up")
            raw_embedding(embedder, parts[:1])
            timed_prepare(knowledge, rebuilds)
            scratch = knowledge.spaces.create({"name": "scratch"}).id
            for round_number in range(args.rounds):
                vectors: list[list[float]] = []
                for step in ("end_to_end", "raw_embedding")[:: 1 if round_number % 2 == 0 else -1]:
                    if step == "end_to_end":
                        before = len(rebuilds)
                        seen, elapsed = end_to_end(knowledge, texts, f"round-{round_number}")
                        if seen != total_chunks:
                            raise SystemExit(f"ingestion made {seen} chunks, the chunker {total_chunks}")
                        rebuilds_per_round.append(sum(rebuilds[before:]))
                    else:
                        vectors, elapsed = raw_embedding(embedder, parts)
                    times[step].append(elapsed)
                times["chroma_add"].append(chroma_only(knowledge, scratch, parts, vectors))
                started = time.perf_counter()
                chunk_texts(texts)
                times["chunking"].append(time.perf_counter() - started)
                ratio = times["raw_embedding"][-1] / times["end_to_end"][-1]
                print(
                    f"round {round_number + 1}: end to end {total_chunks / times['end_to_end'][-1]:6.1f} chunks/s, "
                    f"raw embedding {total_chunks / times['raw_embedding'][-1]:6.1f} chunks/s, ratio {ratio:.2f}",
                    flush=True,
                )
        finally:
            runtime.close()
    report = summary(times, total_chunks, len(texts), len(parts), rebuilds, rebuilds_per_round)
    print_report(report)
    print(json.dumps(report))


def summary(
    times: dict[str, list[float]],
    chunks: int,
    documents: int,
    batch_count: int,
    rebuilds: list[float],
    rebuilds_per_round: list[float],
) -> dict[str, Any]:
    med = {name: statistics.median(values) for name, values in times.items()}
    ratios = [raw / e2e for raw, e2e in zip(times["raw_embedding"], times["end_to_end"], strict=True)]
    return {
        "machine": machine(),
        "documents": documents,
        "chunks": chunks,
        "batches": batch_count,
        "rounds": len(times["end_to_end"]),
        "end_to_end_chunks_per_s": round(chunks / med["end_to_end"], 1),
        "raw_embedding_chunks_per_s": round(chunks / med["raw_embedding"], 1),
        "ratio_of_medians": round(med["raw_embedding"] / med["end_to_end"], 3),
        "ratio_per_round": [round(r, 3) for r in ratios],
        "median_ratio": round(statistics.median(ratios), 3),
        "target": TARGET,
        "p50_s": {name: round(value, 2) for name, value in med.items()},
        "keyword_rebuilds_per_round": round(len(rebuilds) / max(1, len(rebuilds_per_round)), 1),
        "keyword_rebuild_s_per_round_p50": round(statistics.median(rebuilds_per_round), 2) if rebuilds_per_round else 0,
    }


def print_report(r: dict[str, Any]) -> None:
    print(f"machine: {r['machine']}")
    print(
        f"{r['documents']} documents, {r['chunks']} chunks in {r['batches']} batches of <= {BATCH}; "
        f"{r['rounds']} alternating rounds, medians"
    )
    p50 = r["p50_s"]
    print(f"{'variant':34} {'p50 s':>7} {'chunks/s':>9}")
    rows = [
        ("end to end (add_document + wait)", "end_to_end"),
        ("raw embedding (LocalEmbedder.embed)", "raw_embedding"),
        ("  Chroma upsert alone", "chroma_add"),
        ("  loading + chunking alone", "chunking"),
    ]
    for label, key in rows:
        print(f"{label:34} {p50[key]:7.2f} {r['chunks'] / p50[key]:9.1f}")
    print(
        f"keyword-index rebuilds during an ingestion: {r['keyword_rebuilds_per_round']} per round, "
        f"{r['keyword_rebuild_s_per_round_p50']} s in all (p50)"
    )
    verdict = "PASS" if r["median_ratio"] >= TARGET else "MISS"
    print(
        f"end to end / raw: {r['median_ratio']:.2f} median of the rounds' ratios {r['ratio_per_round']}, "
        f"{r['ratio_of_medians']:.2f} of the medians: {verdict} (target >= {TARGET})"
    )


if __name__ == "__main__":
    main()
