"""The embedded model's speed: load time, time-to-first-token and tokens/s for a short prompt.

One command: `python -m benchmarks.local_model [--model qwen2.5-coder-1.5b|smollm2-135m]`.
Runs through the core's LLM layer (the path every chat mode takes), median of several rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from langchain_core.messages import HumanMessage

from benchmarks.harness import machine
from dbgpt_tools.llm.client import LLM
from dbgpt_tools.llm.local_model import ensure_model_file
from dbgpt_tools.settings import Settings

PROMPT = "Write one sentence about databases."
MODEL_DIR = Path(os.environ.get("DBGPT_MODEL_DIR", Path.home() / ".cache" / "dbgpt-tools" / "models"))


async def one_answer(llm: LLM, max_tokens: int) -> tuple[float, float, int]:
    """(time to first token, tokens/s after it, completion tokens) of one short answer."""
    start = time.perf_counter()
    first = 0.0
    tokens = 0
    async for chunk in llm.astream([HumanMessage(PROMPT)], temperature=0, max_tokens=max_tokens):
        if chunk.delta and not first:
            first = time.perf_counter()
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    end = time.perf_counter()
    return first - start, (tokens - 1) / (end - first), tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", choices=["qwen2.5-coder-1.5b", "smollm2-135m"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=data_dir, local_model=args.model, model_dir=MODEL_DIR)
        ensure_model_file(settings.local_model, settings.resolved_model_dir)  # assembly is not load time
        llm = LLM(settings)
        start = time.perf_counter()
        llm.endpoint()  # load the model and start llama.cpp
        load_s = time.perf_counter() - start
        runs = [asyncio.run(one_answer(llm, args.max_tokens)) for _ in range(args.rounds)]
        llm.close()
    report = {
        "machine": machine(),
        "model": args.model,
        "load_s": load_s,
        "ttft_p50_ms": statistics.median(r[0] for r in runs) * 1000,
        "tokens_per_s_p50": statistics.median(r[1] for r in runs),
        "completion_tokens": statistics.median(r[2] for r in runs),
    }
    print(f"machine: {report['machine']}")
    print(
        f"{args.model}: load {load_s:.1f} s, TTFT p50 {report['ttft_p50_ms']:.0f} ms, "
        f"{report['tokens_per_s_p50']:.1f} tokens/s ({report['completion_tokens']:.0f} tokens per answer)"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
