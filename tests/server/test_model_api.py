"""The OpenAI-compatible model API, driven by OpenAI's own SDK: models, chat completions (streamed and not) straight
from the configured model with nothing stored, embeddings from the knowledge embedding model, and every refusal
(401, 403, 404, 400, 429) in OpenAI's error shape; beside the main app, its port opens after the main app started
and closes before the runtime does."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
import numpy as np
import openai
import pytest
import sqlalchemy as sa
from openai import AsyncOpenAI
from starlette.applications import Starlette

from dbgpt_tools.knowledge.embeddings import LOCAL_DIMENSIONS, LOCAL_MODEL, LocalEmbedder
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from server.app import create_app
from server.model_api import create_model_api, with_model_api
from server.model_api_schema import MAX_EMBEDDING_INPUTS
from tests.live import free_port, live_server
from tests.scripted import BrokenStreamModel, ScriptedChatModel

pytestmark = pytest.mark.anyio
BASE = "http://127.0.0.1/api/v1"
KEY = {"Authorization": "Bearer test-key"}


@pytest.fixture
def runtime(knowledge_runtime: Runtime) -> Runtime:
    """The runtime with the real embedding model (the model API serves its vectors)."""
    return knowledge_runtime


@pytest.fixture
def model_app(runtime: Runtime) -> Starlette:
    return create_model_api(runtime)


@pytest.fixture
async def sdk(model_app: Starlette) -> AsyncIterator[AsyncOpenAI]:
    """OpenAI's SDK on the model API (no retries: a refusal is seen as it is)."""
    transport = httpx2.ASGITransport(app=model_app)
    async with httpx2.AsyncClient(transport=transport) as http:
        yield AsyncOpenAI(api_key="test-key", base_url=BASE, http_client=http, max_retries=0)


@pytest.fixture
async def raw(model_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client of the model API, with the key."""
    transport = httpx.ASGITransport(app=model_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=KEY) as client:
        yield client


def conversations(runtime: Runtime) -> int:
    with runtime.store.engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM conversations")).scalar_one())


async def test_models_are_the_chat_model_and_the_embedding_model(sdk: AsyncOpenAI) -> None:
    models = [model.id async for model in sdk.models.list()]
    assert models == ["scripted", LOCAL_MODEL]
    assert (await sdk.models.retrieve("scripted")).owned_by == "DB-GPT"
    with pytest.raises(openai.NotFoundError) as refused:
        await sdk.models.retrieve("gpt-4o")
    assert refused.value.code == "model_not_found"


async def test_a_completion_is_the_models_answer_to_the_messages_as_sent(
    sdk: AsyncOpenAI, scripted: ScriptedChatModel, runtime: Runtime
) -> None:
    completion = await sdk.chat.completions.create(
        model="scripted",
        messages=[{"role": "developer", "content": "Be terse."}, {"role": "user", "content": "Hi"}],
        temperature=0.3,
        max_tokens=7,
        stop=["END"],
    )
    assert completion.choices[0].message.content == "Hello there friend"
    assert completion.choices[0].finish_reason == "stop" and completion.id.startswith("chatcmpl-")
    assert completion.model == "scripted" and completion.usage is not None
    assert scripted.texts() == ["Be terse.", "Hi"] and type(scripted.calls[-1][0]).__name__ == "SystemMessage"
    assert {key: scripted.options[-1][key] for key in ("temperature", "max_tokens", "stop")} == {
        "temperature": 0.3,
        "max_tokens": 7,
        "stop": ["END"],
    }
    await sdk.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "Hi"}], max_tokens=9999)
    assert scripted.options[-1]["max_tokens"] == runtime.settings.max_new_tokens == 512  # capped by the settings
    assert "stop" not in scripted.options[-1] and "temperature" not in scripted.options[-1]
    assert conversations(runtime) == 0 and runtime.llm.gate.admitted == 0  # nothing stored, the gate left


async def test_a_streamed_completion_arrives_in_chunks_that_assemble_the_answer(
    sdk: AsyncOpenAI, scripted: ScriptedChatModel, runtime: Runtime
) -> None:
    stream = await sdk.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    deltas = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices[0].delta.content]
    assert "".join(deltas) == "Hello there friend" and len(deltas) > 1  # piece by piece, as the model wrote
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage is not None
    assert len({chunk.id for chunk in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert scripted.texts() == ["Hi"]  # no system prompt of a chat mode, no history
    assert conversations(runtime) == 0 and runtime.llm.gate.admitted == 0


async def test_a_failure_mid_stream_is_an_error_the_sdk_raises(settings: Settings, embedder: LocalEmbedder) -> None:
    runtime = Runtime(settings, chat_model=BrokenStreamModel.replying("unused"), embedder=embedder)
    try:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=create_model_api(runtime))) as http:
            sdk = AsyncOpenAI(api_key="test-key", base_url=BASE, http_client=http, max_retries=0)
            stream = await sdk.chat.completions.create(
                model="scripted", messages=[{"role": "user", "content": "Hi"}], stream=True
            )
            got: list[str | None] = []
            with pytest.raises(openai.APIError, match="could not be reached"):
                async for chunk in stream:
                    got.append(chunk.choices[0].delta.content)
        assert got == ["partial "] and runtime.llm.gate.admitted == 0
    finally:
        runtime.close()


async def test_embeddings_are_the_knowledge_models_vectors_one_per_input_in_order(
    sdk: AsyncOpenAI, embedder: LocalEmbedder
) -> None:
    texts = ["revenue by region", "a cat sat on the mat", "quarterly revenue per region"]
    answer = await sdk.embeddings.create(model=LOCAL_MODEL, input=texts)  # the SDK asks for base64
    assert answer.model == LOCAL_MODEL and [item.index for item in answer.data] == [0, 1, 2]
    vectors = np.array([item.embedding for item in answer.data])
    assert vectors.shape == (3, LOCAL_DIMENSIONS)
    assert np.allclose(vectors, np.array(embedder.embed(texts)), atol=1e-6)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[2] > vectors[0] @ vectors[1]  # meaning, not noise
    single = await sdk.embeddings.create(model=LOCAL_MODEL, input="revenue by region", encoding_format="float")
    assert len(single.data) == 1 and np.allclose(single.data[0].embedding, vectors[0], atol=1e-6)


async def test_base64_embeddings_are_little_endian_float32(raw: httpx.AsyncClient, embedder: LocalEmbedder) -> None:
    response = await raw.post("/embeddings", json={"input": "hello", "encoding_format": "base64"})
    encoded = response.json()["data"][0]["embedding"]
    decoded = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
    assert np.allclose(decoded, embedder.embed(["hello"])[0], atol=1e-7)


async def test_a_wrong_or_missing_key_is_refused_in_openais_shape(model_app: Starlette) -> None:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=model_app)) as http:
        sdk = AsyncOpenAI(api_key="wrong-key", base_url=BASE, http_client=http, max_retries=0)
        with pytest.raises(openai.AuthenticationError) as refused:
            await sdk.models.list()
    assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=model_app), base_url=BASE) as client:
        for request in (client.get("/models"), client.post("/embeddings", json={"input": "x"})):
            response = await request
            error = response.json()["error"]
            assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
            assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")
            assert "missing API key" in error["message"]


async def test_without_keys_configured_no_key_is_needed(settings: Settings, embedder: LocalEmbedder) -> None:
    runtime = Runtime(settings.model_copy(update={"api_keys": []}), embedder=embedder)
    try:
        transport = httpx.ASGITransport(app=create_model_api(runtime))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            assert (await client.get("/models")).status_code == 200
    finally:
        runtime.close()


async def test_a_foreign_host_or_a_cross_site_write_is_refused(raw: httpx.AsyncClient) -> None:
    rebound = await raw.get("/models", headers={"Host": "attacker.example"})
    forged = await raw.post("/embeddings", json={"input": "x"}, headers={"Origin": "http://attacker.example"})
    for response in (rebound, forged):
        assert response.status_code == 403 and response.json()["error"]["type"] == "invalid_request_error"


HI = [{"role": "user", "content": "Hi"}]


def chat(**fields: Any) -> dict[str, Any]:
    """A chat request to the scripted model saying Hi, with `fields` changed."""
    return {"model": "scripted", "messages": HI, **fields}


BAD_CHAT_REQUESTS: list[tuple[Any, int, str]] = [
    ({"messages": HI}, 400, "model"),
    (chat(messages=[]), 400, "messages"),
    (chat(messages="Hi"), 400, "messages"),
    (chat(messages=[{"role": "tool", "content": "x"}]), 400, "role"),
    (chat(messages=[{"role": "user", "content": None}]), 400, "content"),
    (chat(temperature=5), 400, "temperature"),
    (chat(temperature="hot"), 400, "temperature"),
    (chat(max_tokens=0), 400, "max_tokens"),
    (chat(stop=["a"] * 5), 400, "stop"),
    (chat(n=2), 400, "n"),
    (chat(stream="yes"), 400, "stream"),
    (chat(tools=[{"type": "function"}]), 400, "tools"),
    (chat(response_format={"type": "json_object"}), 400, "response_format"),
    (chat(model="gpt-4o"), 404, "gpt-4o"),
    ([1, 2], 400, "JSON object"),
]
BAD_EMBEDDING_REQUESTS: list[tuple[Any, int, str]] = [
    ({}, 400, "input"),
    ({"input": []}, 400, "input"),
    ({"input": ""}, 400, "input"),
    ({"input": [1, 2, 3]}, 400, "token arrays"),
    ({"input": ["x"] * (MAX_EMBEDDING_INPUTS + 1)}, 400, "input"),
    ({"input": "x" * 40_000}, 400, "input"),
    ({"input": "x", "encoding_format": "int8"}, 400, "encoding_format"),
    ({"input": "x", "dimensions": 10}, 400, "dimensions"),
    ({"input": "x", "model": "text-embedding-3-small"}, 404, "text-embedding-3-small"),
]


@pytest.mark.parametrize(("body", "status", "named"), BAD_CHAT_REQUESTS)
async def test_a_bad_chat_request_is_a_4xx_in_openais_shape(
    raw: httpx.AsyncClient, scripted: ScriptedChatModel, body: Any, status: int, named: str
) -> None:
    response = await raw.post("/chat/completions", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert named in error["message"] and error["type"] == "invalid_request_error"
    assert scripted.calls == []  # refused before the model was asked


@pytest.mark.parametrize(("body", "status", "named"), BAD_EMBEDDING_REQUESTS)
async def test_a_bad_embedding_request_is_a_4xx_in_openais_shape(
    raw: httpx.AsyncClient, body: Any, status: int, named: str
) -> None:
    response = await raw.post("/embeddings", json=body)
    assert response.status_code == status, response.text
    assert named in response.json()["error"]["message"]


async def test_malformed_bodies_and_unknown_routes_are_4xx_json(raw: httpx.AsyncClient) -> None:
    not_json = await raw.post("/chat/completions", content=b"{nope", headers={"Content-Type": "application/json"})
    unknown = await raw.post("/completions", json={"model": "scripted", "prompt": "Hi"})
    wrong_method = await raw.get("/chat/completions")
    for response, status in ((not_json, 400), (unknown, 404), (wrong_method, 405)):
        assert response.status_code == status and set(response.json()["error"]) == {"message", "type", "param", "code"}


async def test_a_busy_model_is_a_429_with_retry_after(
    settings: Settings, scripted: ScriptedChatModel, embedder: LocalEmbedder
) -> None:
    busy = settings.model_copy(update={"llm_max_parallel": 1, "llm_max_queue": 0})
    runtime = Runtime(busy, chat_model=scripted, embedder=embedder)
    holder = runtime.llm.gate.admit()  # a chat turn of the main app holds the only place
    try:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=create_model_api(runtime))) as http:
            sdk = AsyncOpenAI(api_key="test-key", base_url=BASE, http_client=http, max_retries=0)
            with pytest.raises(openai.RateLimitError) as refused:
                await sdk.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "Hi"}])
            assert refused.value.response.headers["retry-after"] == "1"
            assert refused.value.code == "rate_limit_exceeded" and scripted.calls == []
            holder.release()
            answer = await sdk.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "Hi"}])
            assert answer.choices[0].message.content == "Hello there friend"
    finally:
        holder.release()
        runtime.close()


def test_port_zero_serves_the_main_app_alone(settings: Settings) -> None:
    off = settings.model_copy(update={"model_api_port": 0})
    app = create_app(Runtime(off, chat_model=ScriptedChatModel.replying("x")))
    try:
        assert with_model_api(app, {"host": "127.0.0.1"}) is app
    finally:
        app.state.runtime.close()


def test_beside_the_main_app_the_port_opens_after_start_and_closes_before_the_runtime(
    settings: Settings, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    runtime = Runtime(
        settings.model_copy(update={"model_api_port": port}),
        chat_model=ScriptedChatModel.replying("Hello there friend"),
        embedder=embedder,
    )
    seen_at_close: list[bool] = []
    close = runtime.close

    def closing() -> None:
        seen_at_close.append(listening(port))
        close()

    monkeypatch.setattr(runtime, "close", closing)
    served = with_model_api(create_app(runtime, owns_runtime=True), {"host": "127.0.0.1", "log_level": "warning"})
    assert served is not None and not listening(port)  # bound, not listening before the main app has started
    with live_server(served) as main_url:
        assert httpx.get(f"{main_url}/health").json()["model"] == "scripted"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", headers=KEY) as model_port:
            assert [card["id"] for card in model_port.get("/models").json()["data"]] == ["scripted", LOCAL_MODEL]
            answer = model_port.post(
                "/chat/completions", json={"model": "scripted", "messages": [{"role": "user", "content": "Hi"}]}
            )
        assert answer.json()["choices"][0]["message"]["content"] == "Hello there friend"
        assert seen_at_close == []
    assert seen_at_close == [False]  # the main app closed its runtime once, after the model API had stopped


def listening(port: int) -> bool:
    """Whether something accepts connections on the loopback `port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return False
    return True
