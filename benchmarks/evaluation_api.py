"""The retrieval evaluation set run through the evaluation API, beside the benchmark's own scoring.

One command: `python -m benchmarks.evaluation_api`.

The 24 documents of `benchmarks/knowledge_eval` go into a fresh space (default chunking); for each search mode the
72 questions are scored twice on the same space: (a) by `benchmarks.retrieval_eval` (its own searches and hit
rules, offsets and strict), (b) by `runtime.evaluation.run` with rows `{query, doc_name, contexts: [passage]}`,
top_k 5, metrics RetrieverHitRateMetric and RetrieverMRRMetric. The API's matching rule is the benchmark's strict
rule (at least 40 characters of the passage in a chunk of its document), so (b) must equal (a)'s strict hit@5
and MRR; the line says SAME or DIFFERENT.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import machine
from benchmarks.knowledge_eval.dataset import load_documents, load_questions
from benchmarks.retrieval_eval import MODES, SPACE, TOP_K, Judge, evaluate, ingest, targets
from dbgpt_tools.evaluation.models import EvaluationRequest
from dbgpt_tools.knowledge.chunking import ChunkParameters
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings

METRICS = ["RetrieverHitRateMetric", "RetrieverMRRMetric"]


def main() -> dict[str, Any]:
    texts, questions = load_documents(), load_questions()
    rows = [{"query": q.question, "doc_name": q.doc, "contexts": [q.passage]} for q in questions]
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(Settings(data_dir=Path(tmp), sample_db=False, sample_space=False))
        try:
            chunks, _ = ingest(runtime.knowledge, texts, ChunkParameters())
            benchmark, _ = evaluate(runtime.knowledge, questions, Judge(texts), targets(questions, texts))
            result: dict[str, Any] = {"machine": machine(), "chunks": chunks, "questions": len(questions), "modes": {}}
            for mode in MODES:
                request = EvaluationRequest.model_validate(
                    {"scene_key": "recall", "scene_value": SPACE, "datasets": rows, "evaluate_metrics": METRICS,
                     "context": {"top_k": TOP_K, "mode": mode.value}}
                )  # fmt: skip
                report = asyncio.run(runtime.evaluation.run(request))
                api = {s.metric_name: round(s.mean, 4) for s in report.aggregate}
                strict = benchmark[mode.value]["strict"]
                same = api == {"RetrieverHitRateMetric": strict[f"hit@{TOP_K}"], "RetrieverMRRMetric": strict["mrr"]}
                result["modes"][mode.value] = {
                    "benchmark": {k: v for k, v in benchmark[mode.value].items() if k != "search_p50_ms"},
                    "api": api,
                    "verdict": "SAME" if same else "DIFFERENT",
                }
        finally:
            runtime.close()
    return result


if __name__ == "__main__":
    outcome = main()
    print(f"{outcome['machine']}; {outcome['questions']} questions, {outcome['chunks']} chunks, top_k {TOP_K}")
    print(f"{'mode':8} {'bench hit@5':>11} {'MRR':>6}  {'strict hit@5':>12} {'MRR':>6}  {'API hit':>7} {'MRR':>6}")
    for name, line in outcome["modes"].items():
        bench, strict, api = line["benchmark"], line["benchmark"]["strict"], line["api"]
        print(
            f"{name:8} {bench[f'hit@{TOP_K}']:>11} {bench['mrr']:>6}  {strict[f'hit@{TOP_K}']:>12} {strict['mrr']:>6}"
            f"  {api['RetrieverHitRateMetric']:>7} {api['RetrieverMRRMetric']:>6}  {line['verdict']}"
        )
    print(json.dumps(outcome))
