"""SSE relay overhead: the same upstream stream read directly and through /api/v2/chat/completions.

One command: `python -m benchmarks.sse_relay`. Starts a fake OpenAI-compatible upstream and a
`dbgpt-tools serve` process on loopback, alternates direct and relayed reads for several rounds, and prints
added time-to-first-token (p50/p95), tokens/s both ways, their ratio, the events the client parsed per stream
each way and the relay process's CPU time per token; then the added time-to-first-token of short (20-token)
streams, where the first token is not competing with a flood.
Then a concurrency run on the endpoint backend's default limits: 200 streams at a realistic pace (50 tokens,
20 ms apart; ideal 1.0 s each; target: all complete within 1.5 s), in rounds alternating with the same streams
read directly from the upstream, so the client's own share of the two cores is seen beside the relay's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time

import httpx

from benchmarks.harness import free_port, machine, percentile, serving

KEY = "bench-key"


async def read_stream(client: httpx.AsyncClient, url: str, body: dict[str, object]) -> tuple[float, float, str, int]:
    """(time to first content, time from first content to the end, the text, content events) of one SSE stream."""
    start = time.perf_counter()
    first = 0.0
    parts: list[str] = []
    async with client.stream("POST", url, json=body, headers={"Authorization": f"Bearer {KEY}"}) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            choices = json.loads(data).get("choices") or [{}]
            content = choices[0].get("delta", {}).get("content")
            if content:
                if not first:
                    first = time.perf_counter()
                parts.append(content)
    end = time.perf_counter()
    return first - start, end - first, "".join(parts), len(parts)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux `/proc`; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _bodies(tokens: int) -> tuple[dict[str, object], dict[str, object]]:
    direct = {"model": "fake", "stream": True, "max_tokens": tokens, "messages": [{"role": "user", "content": "go"}]}
    through = {"model": "fake", "stream": True, "max_new_tokens": tokens, "messages": "go"}
    return direct, through


async def side_by_side(upstream: str, relay: str, tokens: int, rounds: int, relay_pid: int) -> dict[str, float]:
    """Alternate direct and relayed reads; medians and p95 of the differences."""
    direct_body, through_body = _bodies(tokens)
    expected = "".join(f" tok{i}" for i in range(tokens))
    ttft: dict[str, list[float]] = {"direct": [], "through": []}
    rate: dict[str, list[float]] = {"direct": [], "through": []}
    events: dict[str, list[int]] = {"direct": [], "through": []}
    relay_cpu = 0.0
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(3):  # warm both paths (connections, the relay's lazy model client)
            await read_stream(client, upstream, direct_body)
            await read_stream(client, relay, through_body)
        for i in range(rounds):
            order = [("direct", upstream, direct_body), ("through", relay, through_body)]
            for name, url, body in order if i % 2 == 0 else order[::-1]:
                cpu_before = cpu_seconds(relay_pid)
                first, streaming, text, count = await read_stream(client, url, body)
                if name == "through":
                    relay_cpu += cpu_seconds(relay_pid) - cpu_before
                if text.strip() != expected.strip():
                    raise AssertionError(f"{name} stream text differs from the upstream's tokens")
                ttft[name].append(first)
                rate[name].append((tokens - 1) / streaming)
                events[name].append(count)
    added = [t - d for t, d in zip(ttft["through"], ttft["direct"], strict=True)]
    direct_rate, through_rate = statistics.median(rate["direct"]), statistics.median(rate["through"])
    return {
        "added_ttft_p50_ms": percentile(added, 50) * 1000,
        "added_ttft_p95_ms": percentile(added, 95) * 1000,
        "ttft_direct_p50_ms": percentile(ttft["direct"], 50) * 1000,
        "ttft_through_p50_ms": percentile(ttft["through"], 50) * 1000,
        "tokens_per_s_direct": direct_rate,
        "tokens_per_s_through": through_rate,
        "ratio_through_direct": through_rate / direct_rate,
        "events_direct_p50": statistics.median(events["direct"]),
        "events_through_p50": statistics.median(events["through"]),
        "relay_cpu_per_token_us": relay_cpu / (rounds * tokens) * 1e6,
    }


async def _paced_round(url: str, body: dict[str, object], streams: int, tokens: int) -> tuple[float, int]:
    """One round of `streams` concurrent streams: (wall seconds, streams that got every token)."""
    limits = httpx.Limits(max_connections=streams + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        start = time.perf_counter()
        results = await asyncio.gather(
            *(read_stream(client, url, body) for _ in range(streams)), return_exceptions=True
        )
        wall = time.perf_counter() - start
    return wall, sum(1 for r in results if not isinstance(r, BaseException) and r[2].count("tok") == tokens)


async def concurrent_paced(
    upstream: str, relay: str, streams: int, tokens: int, pace_ms: float, rounds: int
) -> dict[str, float]:
    """Many streams at once against a paced upstream, directly and through the relay in alternate rounds (the
    same client in both, sharing the machine's cores): how many complete, and the median wall time of each."""
    direct_body, relay_body = _bodies(tokens)
    walls: dict[str, list[float]] = {"direct": [], "through": []}
    completed = streams
    for _ in range(rounds):
        wall, _ = await _paced_round(upstream, direct_body, streams, tokens)
        walls["direct"].append(wall)
        wall, complete = await _paced_round(relay, relay_body, streams, tokens)
        walls["through"].append(wall)
        completed = min(completed, complete)
    return {
        "streams": streams,
        "completed": completed,
        "wall_direct_s": statistics.median(walls["direct"]),
        "wall_s": statistics.median(walls["through"]),
        "ideal_s": tokens * pace_ms / 1000,
        "rounds": rounds,
    }


def _server_env(upstream_port: int, data_dir: str, parallel: int | None = None) -> dict[str, str]:
    """A server on the fake upstream; `parallel` sets the model's limits (None: the endpoint backend's defaults)."""
    env = {
        "DBGPT_DATA_DIR": data_dir,
        "DBGPT_API_KEYS": KEY,
        "DBGPT_LLM_BACKEND": "openai",
        "DBGPT_LLM_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "DBGPT_LLM_MODEL": "fake",
        "DBGPT_MAX_NEW_TOKENS": "4096",
    }
    if parallel is not None:
        env |= {"DBGPT_LLM_MAX_PARALLEL": str(parallel), "DBGPT_LLM_MAX_QUEUE": str(parallel)}
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--streams", type=int, default=200, help="paced streams at once (default settings)")
    parser.add_argument("--paced-rounds", type=int, default=5, help="alternate direct/through rounds of them")
    args = parser.parse_args()
    report: dict[str, object] = {"machine": machine(), "tokens": args.tokens, "rounds": args.rounds}
    with tempfile.TemporaryDirectory() as data_dir:
        up_port, relay_port = free_port(), free_port()
        with (
            serving(["-m", "benchmarks.fake_upstream", "--port", str(up_port)], up_port),
            serving(
                ["-m", "server", "serve", "--port", str(relay_port)], relay_port, _server_env(up_port, data_dir, 4)
            ) as relay_process,
        ):
            upstream = f"http://127.0.0.1:{up_port}/v1/chat/completions"
            relay = f"http://127.0.0.1:{relay_port}/api/v2/chat/completions"
            pid = relay_process.pid
            report["unpaced"] = asyncio.run(side_by_side(upstream, relay, args.tokens, args.rounds, pid))
            report["short"] = asyncio.run(side_by_side(upstream, relay, 20, args.rounds, pid))
        paced_port, relay_port = free_port(), free_port()
        with (
            serving(["-m", "benchmarks.fake_upstream", "--port", str(paced_port), "--pace-ms", "20"], paced_port),
            serving(
                ["-m", "server", "serve", "--port", str(relay_port)],
                relay_port,
                _server_env(paced_port, data_dir),
            ),
        ):
            relay = f"http://127.0.0.1:{relay_port}/api/v2/chat/completions"
            upstream = f"http://127.0.0.1:{paced_port}/v1/chat/completions"
            report["paced_concurrent"] = asyncio.run(
                concurrent_paced(upstream, relay, args.streams, 50, 20, args.paced_rounds)
            )
    unpaced = report["unpaced"]
    assert isinstance(unpaced, dict)
    print(f"machine: {report['machine']}")
    print(f"{'added TTFT p50 / p95 (ms)':32} {unpaced['added_ttft_p50_ms']:8.2f} / {unpaced['added_ttft_p95_ms']:.2f}")
    short = report["short"]
    assert isinstance(short, dict)
    ttft = short["added_ttft_p50_ms"], short["added_ttft_p95_ms"]
    print(f"{'short (20 tokens) added TTFT p50/p95':32} {ttft[0]:8.2f} / {ttft[1]:.2f}")
    speeds = unpaced["tokens_per_s_direct"], unpaced["tokens_per_s_through"]
    print(f"{'tokens/s direct / through':32} {speeds[0]:8.0f} / {speeds[1]:.0f}")
    print(f"{'ratio through/direct':32} {unpaced['ratio_through_direct']:8.3f}")
    events = unpaced["events_direct_p50"], unpaced["events_through_p50"]
    print(f"{'events per stream direct / through':32} {events[0]:8.0f} / {events[1]:.0f}")
    print(f"{'relay CPU per token (us)':32} {unpaced['relay_cpu_per_token_us']:8.1f}")
    paced = report["paced_concurrent"]
    assert isinstance(paced, dict)
    print(f"{'paced: completed / streams':32} {paced['completed']:8d} / {paced['streams']} (worst round)")
    print(f"{'paced: wall through / ideal (s)':32} {paced['wall_s']:8.2f} / {paced['ideal_s']:.2f} (median)")
    print(f"{'paced: wall direct, same client (s)':32} {paced['wall_direct_s']:8.2f} (median)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
