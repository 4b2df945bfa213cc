"""Search latency of a knowledge space at 10k and 100k chunks: p50/p95 of hybrid, vector and keyword search
(target: hybrid <= 50 ms p50 at 100k), the keyword index's build time and Chroma's add throughput.

One command: `python -m benchmarks.retrieval_latency [--sizes 10000,100000] [--rounds 3]`.

Embedding 100k real chunks would take about a quarter of an hour here, so the collection is made of:
  - the real chunks: the 24 documents of benchmarks/knowledge_eval ingested the ordinary way (`add_document` +
    `wait`, default chunk parameters), embedded once by the local model;
  - synthetic chunks up to each size. Synthetic chunk i picks a real chunk B at random (seeded). Its text is
    recombined from real sentences of B's document (the document's chunks split after . ! ? and at line breaks;
    pieces of 20+ characters), drawn at random and joined by spaces until it is as long as B (cut to 512
    characters, the default chunk size); its vector is B's unit vector plus Gaussian noise (sigma 0.02 per
    dimension, cosine ~0.93 to B), normalised again. So the vectors cluster like the real ones and the texts
    have the real vocabulary and word statistics, but a synthetic text is not what its vector means.
    They are stored in documents of 1,000 chunks (`synthetic-NNNN.md`, whose content is the chunks joined by a
    blank line, so the chunks' offsets are right), created with `documents.create` (status TODO, never queued),
    their chunks added with `vectors.add` (batches of 1,000, ids `chunk_id(doc, 1, i)`, metadata `chunk_metadata`),
    and then made live with the ingestor's conditional update (id and generation match, still TODO -> FINISHED,
    `live_generation` = 1) while the space's `keyword_generation` is bumped in the same transaction.
The sizes are built one after the other in the same space (10k, then 90k more).

At each size: the keyword index is built by `retriever.prepare` (timed: it reads every live chunk back from Chroma
and indexes it with bm25s), one search is run and thrown away, then `--rounds` rounds of the 72 eval questions,
each searched in the three modes in rotating order (top_k=5, as chat_knowledge asks 4). The parts of a search
are timed alone on the same questions for the breakdown: the query's embedding, the store's live-document lookup,
Chroma's query (20 candidates), the keyword index's (40) and the fetch of the keyword hits from Chroma. Recall@5
of vector search against an exact (brute-force numpy) search over the same vectors says what the HNSW index gives
up ("sim kept": the similarities of what it found over those of the exact top 5). "read" is the part of the keyword
index build spent reading the chunks back from Chroma, timed alone after the build.

At the largest size the searches are then repeated with every document's stored text emptied, as the row of an
uploaded file has it (its bytes are kept on disk; a text document keeps its whole text in the row): the store's
live-document lookup, run twice per hybrid or keyword search, reads past that text column. Not interleaved with
the first measurement (it changes the store), so compare it with care.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select, update

from benchmarks.harness import machine, percentile
from benchmarks.knowledge_eval.dataset import Question, load_documents, load_questions
from benchmarks.knowledge_eval.ingest import ingest_all
from dbgpt_tools.knowledge.chunking import Chunk
from dbgpt_tools.knowledge.ingestion import chunk_id, chunk_metadata, make_live
from dbgpt_tools.knowledge.models import DocumentStatus, SearchMode
from dbgpt_tools.knowledge.retrieval import CANDIDATES, live_chunk_texts, live_documents
from dbgpt_tools.knowledge.service import KnowledgeService
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.store.metadata import MetadataStore
from dbgpt_tools.store.models import DocumentRow, SpaceRow

SPACE = "latency"
TOP_K = 5
TARGET_MS = 50.0
SIGMA = 0.02
DOC_CHUNKS = 1000
MAX_TEXT = 512
SEED = 12
MODES = (SearchMode.hybrid, SearchMode.vector, SearchMode.keyword)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")

Matrix = npt.NDArray[np.float32]


class Collection:
    """The space's chunks as built so far: the real ones and a synthetic-chunk maker seeded from them."""

    def __init__(self, ids: list[str], texts: list[str], docs: list[int], vectors: Matrix) -> None:
        self.rng = random.Random(SEED)
        self.noise = np.random.default_rng(SEED)
        self.real_texts = texts
        self.real_docs = docs
        self.real_vectors = vectors
        self.sentences: dict[int, list[str]] = {}
        for text, doc in zip(texts, docs, strict=True):
            pieces = [p.strip() for p in _SENTENCE.split(text)]
            self.sentences.setdefault(doc, []).extend(p for p in pieces if len(p) >= 20)
        self.ids = list(ids)
        self.vectors: list[Matrix] = [vectors]

    @property
    def count(self) -> int:
        return len(self.ids)

    def synthetic(self, n: int) -> tuple[list[str], Matrix]:
        """`n` synthetic chunks: texts recombined from real sentences, vectors = real vectors plus noise."""
        bases = [self.rng.randrange(len(self.real_texts)) for _ in range(n)]
        texts = []
        for base in bases:
            pool = self.sentences[self.real_docs[base]]
            wanted = len(self.real_texts[base])
            parts: list[str] = []
            length = 0
            while length < wanted:
                sentence = self.rng.choice(pool)
                parts.append(sentence)
                length += len(sentence) + 1
            texts.append(" ".join(parts)[:MAX_TEXT].strip())
        noisy = self.real_vectors[bases] + self.noise.normal(0.0, SIGMA, (n, self.real_vectors.shape[1]))
        vectors: Matrix = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
        return texts, vectors


def ingest_real(knowledge: KnowledgeService, space_id: int) -> tuple[int, float]:
    return ingest_all(knowledge, space_id, load_documents())


def real_chunks(knowledge: KnowledgeService, space_id: int) -> Collection:
    """The ingested chunks' texts, documents and vectors, read back from the store."""
    pairs = list(knowledge.vectors.chunks(space_id))
    fetched = knowledge.vectors.fetch(space_id, [chunk_id_ for chunk_id_, _, _ in pairs])
    texts = [text for _, text, _ in pairs]
    docs = [int(metadata["doc_id"]) for _, _, metadata in pairs]
    vectors = np.asarray([fetched[chunk_id_][2] for chunk_id_, _, _ in pairs], dtype=np.float32)
    return Collection([chunk_id_ for chunk_id_, _, _ in pairs], texts, docs, vectors)


def add_synthetic(
    knowledge: KnowledgeService, store: MetadataStore, space_id: int, collection: Collection, target: int
) -> dict[str, Any]:
    """Grow the space to `target` chunks with synthetic documents: chunks added, seconds in `vectors.add`."""
    add_s = make_s = 0.0
    added = 0
    while collection.count < target:
        n = min(DOC_CHUNKS, target - collection.count)
        started = time.perf_counter()
        texts, vectors = collection.synthetic(n)
        make_s += time.perf_counter() - started
        content = "\n\n".join(texts)
        document = knowledge.documents.create(space_id, f"synthetic-{collection.count:06d}.md", content=content)
        row = knowledge.documents.row(document.id)
        chunks, offset = [], 0
        for index, text in enumerate(texts):
            chunks.append(Chunk(index=index, content=text, start=offset, end=offset + len(text)))
            offset += len(text) + 2
        assert all(content[c.start : c.end] == c.content for c in chunks)
        ids = [chunk_id(row.id, row.generation, c.index) for c in chunks]
        rows: list[list[float]] = vectors.tolist()  # what the ingestion passes
        started = time.perf_counter()
        knowledge.vectors.add(
            space_id,
            ids,
            rows,
            texts,
            [chunk_metadata(row, row.generation, c) for c in chunks],
        )
        add_s += time.perf_counter() - started
        go_live(store, space_id, row.id, row.generation, n)
        collection.vectors.append(vectors)
        collection.ids.extend(ids)
        added += n
    return {"added": added, "add_s": round(add_s, 1), "make_s": round(make_s, 1)}


def go_live(store: MetadataStore, space_id: int, doc_id: int, generation: int, count: int) -> None:
    """The ingestor's own go-live, from TODO (the document was never queued): live, and the keyword index stale."""
    with store.session() as session:
        if not make_live(session, space_id, doc_id, generation, count, DocumentStatus.TODO):
            raise SystemExit(f"synthetic document {doc_id} could not be made live")


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p95_ms": round(percentile(values, 95) * 1000, 2),
    }


def measure(
    knowledge: KnowledgeService,
    store: MetadataStore,
    space_id: int,
    questions: list[Question],
    rounds: int,
    collection: Collection,
) -> dict[str, Any]:
    """Keyword index build, first search, then every question in every mode for `rounds` rounds."""
    stored = knowledge.vectors.count(space_id)
    if stored != collection.count:
        raise SystemExit(f"{stored} chunks stored, {collection.count} built")
    build_s = timed(partial(knowledge.retriever.prepare, space_id))
    live = live_documents(store, space_id)
    read_s = timed(lambda: sum(1 for _ in live_chunk_texts(knowledge.vectors, space_id, live)))
    first_s = timed(partial(knowledge.retriever.search, SPACE, questions[0].question, top_k=TOP_K))
    result: dict[str, Any] = {
        "chunks": collection.count,
        "keyword_build_s": round(build_s, 2),
        "read_back_s": round(read_s, 2),
        "first_search_ms": round(first_s * 1000, 1),
        "modes": searches(knowledge, questions, rounds),
        "parts": parts(knowledge, store, space_id, questions),
    }
    result["vector_recall@5"], result["vector_similarity_kept"] = recall(knowledge, space_id, questions, collection)
    return result


def searches(knowledge: KnowledgeService, questions: list[Question], rounds: int) -> dict[str, dict[str, float]]:
    """p50/p95 per mode of every question, `rounds` times, the modes in rotating order."""
    samples: dict[str, list[float]] = {mode.value: [] for mode in MODES}
    turn = 0
    for _ in range(rounds):
        for q in questions:
            turn += 1
            for mode in MODES[turn % 3 :] + MODES[: turn % 3]:
                search = partial(knowledge.retriever.search, SPACE, q.question, top_k=TOP_K, mode=mode)
                samples[mode.value].append(timed(search))
    return {mode: stats(values) for mode, values in samples.items()}


def without_stored_text(knowledge: KnowledgeService, store: MetadataStore, space_id: int) -> None:
    """Empty every document's stored text, as an uploaded file's row has it (its bytes are kept on disk)."""
    with store.session() as session:
        session.execute(update(DocumentRow).where(DocumentRow.space_id == space_id).values(content=""))


def parts(
    knowledge: KnowledgeService, store: MetadataStore, space_id: int, questions: list[Question]
) -> dict[str, dict[str, float]]:
    """The pieces of one search, each timed alone on the same questions."""
    wanted = TOP_K * CANDIDATES
    with store.session() as session:
        generation = session.scalar(select(SpaceRow.keyword_generation).where(SpaceRow.id == space_id)) or 0
    live = live_documents(store, space_id)
    vectors = [knowledge.embedder.embed([q.question])[0] for q in questions]
    times: dict[str, list[float]] = {
        "embed query": [],
        "live documents": [],
        "chroma query": [],
        "bm25 search": [],
        "chroma fetch (keyword hits)": [],
    }

    def every_chunk() -> Iterator[tuple[str, str]]:  # not called: the index of this generation exists
        return live_chunk_texts(knowledge.vectors, space_id, live)

    for q, vector in zip(questions, vectors, strict=True):
        times["embed query"].append(timed(partial(knowledge.embedder.embed, [q.question])))
        times["live documents"].append(timed(partial(live_documents, store, space_id)))
        times["chroma query"].append(timed(partial(knowledge.vectors.query, space_id, vector, wanted)))
        bm25 = partial(knowledge.keywords.search, space_id, generation, q.question, wanted * 2, every_chunk)
        times["bm25 search"].append(timed(bm25))
        keyword_ids = [found for found, _ in bm25()][:wanted]
        times["chroma fetch (keyword hits)"].append(timed(partial(knowledge.vectors.fetch, space_id, keyword_ids)))
    return {name: stats(values) for name, values in times.items()}


def recall(
    knowledge: KnowledgeService, space_id: int, questions: list[Question], collection: Collection
) -> tuple[float, float]:
    """Share of the exact top 5 (by cosine over every vector added) among the top 5 of Chroma's query (of 20, as a
    search asks), and the mean ratio of their summed similarities (how much worse what HNSW found is)."""
    ids = collection.ids
    matrix = np.vstack(collection.vectors)
    found = 0
    kept: list[float] = []
    for q in questions:
        vector = np.asarray(knowledge.embedder.embed([q.question])[0], dtype=np.float32)
        similarities = matrix @ vector
        best = np.argsort(-similarities)[:TOP_K]
        hits = knowledge.vectors.query(space_id, vector.tolist(), TOP_K * CANDIDATES)[:TOP_K]
        found += len({ids[i] for i in best} & {hit.chunk_id for hit in hits})
        kept.append(sum(hit.similarity for hit in hits) / float(similarities[best].sum()))
    return round(found / (TOP_K * len(questions)), 4), round(statistics.mean(kept), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated chunk counts, ascending")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the 72 questions per size")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    questions = load_questions()
    report: dict[str, Any] = {"machine": machine(), "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(Settings(data_dir=Path(tmp), sample_db=False, sample_space=False))
        knowledge = runtime.knowledge
        try:
            space_id = knowledge.spaces.create({"name": SPACE}).id
            real, ingest_s = ingest_real(knowledge, space_id)
            collection = real_chunks(knowledge, space_id)
            report["real_chunks"] = real
            report["real_ingest_s"] = round(ingest_s, 1)
            print(f"{real} real chunks ingested in {ingest_s:.1f} s", flush=True)
            for size in sizes:
                started = time.perf_counter()
                build = add_synthetic(knowledge, runtime.store, space_id, collection, size)
                build["build_s"] = round(time.perf_counter() - started, 1)
                build["add_chunks_per_s"] = round(build["added"] / build["add_s"], 1) if build["add_s"] else None
                print(f"{collection.count} chunks: {build}", flush=True)
                result = measure(knowledge, runtime.store, space_id, questions, args.rounds, collection)
                result["build"] = build
                if size == sizes[-1]:
                    without_stored_text(knowledge, runtime.store, space_id)
                    result["no_stored_text"] = {
                        "modes": searches(knowledge, questions, args.rounds),
                        "parts": parts(knowledge, runtime.store, space_id, questions),
                    }
                report["sizes"][str(size)] = result
                print_size(result)
        finally:
            runtime.close()
    print_report(report)
    print(json.dumps(report))


def print_size(r: dict[str, Any]) -> None:
    modes = "  ".join(f"{m} p50 {s['p50_ms']:.1f} / p95 {s['p95_ms']:.1f} ms" for m, s in r["modes"].items())
    print(f"  {r['chunks']} chunks: {modes}", flush=True)


def print_report(report: dict[str, Any]) -> None:
    print(f"machine: {report['machine']}")
    print(f"real chunks: {report['real_chunks']} (ingested in {report['real_ingest_s']} s); the rest synthetic")
    print(
        f"{'chunks':>7} {'':15} {'hybrid p50/p95':>16} {'vector p50/p95':>16} {'keyword p50/p95':>16} "
        f"{'kw build (read)':>16} {'first':>6} {'add/s':>6} {'recall@5':>8} {'sim kept':>8}"
    )
    for r in report["sizes"].values():
        print(
            f"{r['chunks']:7d} {'text in rows':15} {_cells(r['modes'])} "
            f"{r['keyword_build_s']:6.1f} s ({r['read_back_s']:4.1f} s) {r['first_search_ms']:4.0f}ms "
            f"{r['build']['add_chunks_per_s'] or 0:6.0f} {r['vector_recall@5']:8.3f} {r['vector_similarity_kept']:8.3f}"
        )
        if "no_stored_text" in r:
            print(f"{r['chunks']:7d} {'no text in rows':15} {_cells(r['no_stored_text']['modes'])}")
    for r in report["sizes"].values():
        print(f"  parts at {r['chunks']} chunks (p50 ms, each alone): {_parts(r['parts'])}")
        if "no_stored_text" in r:
            print(f"  parts at {r['chunks']} chunks, no text in rows: {_parts(r['no_stored_text']['parts'])}")
    largest = report["sizes"][max(report["sizes"], key=int)]
    hybrid = largest["modes"]["hybrid"]["p50_ms"]
    verdict = "PASS" if hybrid <= TARGET_MS else "MISS"
    line = (
        f"hybrid p50 at {largest['chunks']} chunks: {hybrid:.1f} ms: {verdict} (target <= {TARGET_MS:.0f} ms at 100k)"
    )
    if "no_stored_text" in largest:
        bare = largest["no_stored_text"]["modes"]["hybrid"]["p50_ms"]
        line += f"; {bare:.1f} ms without document text in the rows: {'PASS' if bare <= TARGET_MS else 'MISS'}"
    print(line)


def _cells(modes: dict[str, dict[str, float]]) -> str:
    return " ".join(f"{modes[m.value]['p50_ms']:7.1f}/{modes[m.value]['p95_ms']:5.1f} ms" for m in MODES)


def _parts(parts: dict[str, dict[str, float]]) -> str:
    return ", ".join(f"{name} {s['p50_ms']:.1f}" for name, s in parts.items())


if __name__ == "__main__":
    main()
