"""The lean stream from an OpenAI-compatible endpoint: token by token at a model's pace, batched in a flood."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import benchmarks.fake_upstream as upstream
from dbgpt_tools.openai_stream import OpenAIStream
from tests.live import live_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def base_url() -> Iterator[str]:
    with live_server(upstream.app) as url:
        yield f"{url}/v1"


async def chunks(base_url: str, tokens: int) -> list:  # type: ignore[type-arg]
    stream = OpenAIStream(base_url, "key", "fake", timeout=30)
    try:
        return [chunk async for chunk in stream.astream([{"role": "user", "content": "go"}], temperature=None,
                                                         max_tokens=tokens)]
    finally:
        await stream.aclose()


async def test_a_flood_is_relayed_in_few_chunks_with_the_first_token_alone(base_url: str) -> None:
    got = await chunks(base_url, 2000)
    text = "".join(chunk.delta for chunk in got)
    assert text == "".join(f" tok{i}" for i in range(2000))
    assert got[0].delta == " tok0"  # time to first token is never traded for batching
    assert len(got) < 2000 / 4  # the reader gets batches, not one event per token
    assert got[-1].finish_reason == "stop" and got[-1].usage.completion_tokens == 2000


async def test_tokens_at_a_models_pace_go_out_one_by_one(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream, "_PACE_S", 0.01)
    got = await chunks(base_url, 12)
    assert [chunk.delta for chunk in got[:-1]] == [f" tok{i}" for i in range(12)]
