"""The server on the real embedded model: OpenAI SDK (stream and not), and 20 concurrent streams."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI

from dbgpt_tools.runtime import Runtime
from server.app import create_app
from tests.live import live_server
from tests.sse import check_chunks, parse_sse

pytestmark = pytest.mark.local_model


@pytest.fixture
def base_url(local_runtime: Runtime) -> Iterator[str]:
    with live_server(create_app(local_runtime)) as url:
        yield url


def test_openai_sdk_non_stream_and_stream(base_url: str, local_runtime: Runtime) -> None:
    client = OpenAI(base_url=f"{base_url}/api/v2", api_key="test-key")
    answer = client.chat.completions.create(
        model="anything", messages=[{"role": "user", "content": "Say hello."}], extra_body={"chat_mode": "chat_normal"}
    )
    assert (answer.choices[0].message.content or "").strip()
    assert answer.model == "smollm2-135m"
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    stream = client.chat.completions.create(
        model="anything",
        messages=[{"role": "user", "content": "Say hello."}],
        stream=True,
        extra_body={"chat_mode": "chat_normal", "conv_uid": answer.id},
    )
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert len(pieces) > 2 and "".join(pieces).strip()
    history = local_runtime.conversations.history(answer.id, 10)
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[-1].content == "".join(pieces)


def test_wrong_key_is_an_sdk_authentication_error(base_url: str) -> None:
    import openai

    client = OpenAI(base_url=f"{base_url}/api/v2", api_key="wrong")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])


async def _stream(client: httpx.AsyncClient, url: str, question: str) -> tuple[str, str]:
    body = {"messages": question, "stream": True, "temperature": 0, "max_new_tokens": 24}
    response = await client.post(url, json=body, headers={"Authorization": "Bearer test-key"})
    assert response.status_code == 200, response.text
    chunks = parse_sse(response.text)
    return chunks[0]["id"], check_chunks(chunks)


@pytest.mark.anyio
async def test_twenty_concurrent_streams_complete_unmixed(base_url: str, local_runtime: Runtime) -> None:
    questions = [f"Count from {n} to {n + 3}." for n in range(20)]
    async with httpx.AsyncClient(timeout=300) as client:
        results = await asyncio.gather(*(_stream(client, f"{base_url}/api/v2/chat/completions", q) for q in questions))
    assert len({conv for conv, _ in results}) == 20
    for (conv, text), question in zip(results, questions, strict=True):
        assert text.strip()
        stored = local_runtime.conversations.history(conv, 10)
        assert [m.content for m in stored] == [question, text]  # each stream is exactly its own turn
