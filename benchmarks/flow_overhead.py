"""What running a flow adds on top of calling its operators directly.

One command: `python -m benchmarks.flow_overhead [--rounds 2000] [--json]`.

Side by side in one process, alternating every round, on the same question:
  (a) direct: the operators' own functions called in sequence, each on the previous one's output: `user_input`,
      then `format_text` five times (template `{text}`, so the text passes through unchanged);
  (b) flow: the same six nodes as a checked graph, run by `run_flow` (inputs gathered from the edges, outputs
      kept per port, chunks yielded), answer collected.
The overhead per node is (b - a) / 5 at the median; the target is <= 2 ms per node. Also timed on its own: what a
chat_flow turn does before running, reading the flow from the metadata store and checking its graph
(`FlowRegistry.graph`), since every turn does it once.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import machine, percentile
from dbgpt_tools.chat.models import ChatMode, ChatRequest
from dbgpt_tools.chat.modes.base import TurnContext
from dbgpt_tools.flows.graph import check_graph
from dbgpt_tools.flows.models import FlowDataIn
from dbgpt_tools.flows.operators import OPERATORS
from dbgpt_tools.flows.runner import FlowServices, NodeCall, run_flow
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings

NODES = 5
TARGET_MS = 2.0
QUESTION = "How many orders shipped to Europe last month, by week?"


def pass_through_flow() -> FlowDataIn:
    """`user_input` then five `format_text` nodes that pass the text on."""
    ids = ["input", *(f"pass{i}" for i in range(NODES))]
    nodes = [{"id": "input", "data": {"name": "user_input"}}]
    nodes += [
        {"id": node_id, "data": {"name": "format_text", "parameters": [{"name": "template", "value": "{text}"}]}}
        for node_id in ids[1:]
    ]
    edges = [{"source": a, "target": b} for a, b in itertools.pairwise(ids)]
    return FlowDataIn.model_validate({"nodes": nodes, "edges": edges})


async def main(rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), sample_db=False, sample_space=False, api_keys="k")
        runtime = Runtime(settings)
        try:
            return await measure(runtime, rounds)
        finally:
            runtime.close()


async def measure(runtime: Runtime, rounds: int) -> dict[str, Any]:
    flow = runtime.flows.create({"uid": "passes", "name": "passes", "flow_data": pass_through_flow().model_dump()})
    graph = runtime.flows.graph(flow.uid)
    services = FlowServices(runtime.knowledge, runtime.data_chat, runtime.sql)
    request = ChatRequest(messages=QUESTION, chat_mode=ChatMode.chat_flow, chat_param=flow.uid)
    turn = TurnContext(request, QUESTION, [], runtime.llm, runtime.llm.gate.admit())
    user_input, format_text = OPERATORS["user_input"].run, OPERATORS["format_text"].run
    assert user_input is not None and format_text is not None

    async def direct() -> str:
        text: str = (await user_input(NodeCall(graph.nodes["input"], {}, {}, turn, services)))["question"]
        for index in range(NODES):
            node = graph.nodes[f"pass{index}"]
            call = NodeCall(node, node.parameters, {"text": text, "extra": ""}, turn, services)
            text = (await format_text(call))["text"]
        return text

    async def through_flow() -> str:
        return "".join([chunk.delta async for chunk in run_flow(graph, turn, services)])

    assert await direct() == await through_flow() == QUESTION
    timings: dict[str, list[float]] = {"direct": [], "flow": [], "load + check": []}
    for _ in range(50):  # warm up both paths
        await direct()
        await through_flow()
    for round_ in range(rounds):
        pair = (("direct", direct), ("flow", through_flow))
        for name, run in pair if round_ % 2 == 0 else reversed(pair):
            started = time.perf_counter()
            await run()
            timings[name].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        runtime.flows.graph(flow.uid)
        timings["load + check"].append((time.perf_counter() - started) * 1000)
    turn.admission.release()
    medians = {name: statistics.median(values) for name, values in timings.items()}
    per_node = (medians["flow"] - medians["direct"]) / NODES
    check_only = min(_timed(lambda: check_graph(pass_through_flow(), OPERATORS)) for _ in range(200))
    return {
        "machine": machine(),
        "rounds": rounds,
        "median_ms": {name: round(value, 4) for name, value in medians.items()},
        "p95_ms": {name: round(percentile(values, 95), 4) for name, values in timings.items()},
        "overhead_per_node_ms": round(per_node, 4),
        "check_graph_ms_best": round(check_only, 4),
        "target_per_node_ms": TARGET_MS,
        "verdict": "PASS" if per_node <= TARGET_MS else "MISS",
    }


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    options = parser.parse_args()
    result = asyncio.run(main(options.rounds))
    if options.json:
        print(json.dumps(result))
    else:
        print(f"{result['machine']}; {result['rounds']} alternating rounds")
        print(f"{'':16}{'median ms':>12}{'p95 ms':>12}")
        for name, value in result["median_ms"].items():
            print(f"{name:16}{value:>12.4f}{result['p95_ms'][name]:>12.4f}")
        print(
            f"overhead per node: {result['overhead_per_node_ms']:.4f} ms (target <= {TARGET_MS} ms): "
            f"{result['verdict']}; check_graph alone {result['check_graph_ms_best']:.4f} ms"
        )
