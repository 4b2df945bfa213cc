"""The REST face through its real protocol (ASGI in process): shapes, streaming, auth and refusals."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from dbgpt_tools.runtime import Runtime
from tests.asgi import rest_client
from tests.scripted import BrokenStreamModel, ScriptedChatModel
from tests.sse import check_chunks, parse_sse

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": "Bearer test-key"}
URL = "/api/v2/chat/completions"


async def _client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with rest_client(runtime) as client:
        yield client


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(runtime):
        yield client


async def test_non_stream_answer_has_openai_shape_and_conv_id(api: httpx.AsyncClient) -> None:
    response = await api.post(URL, json={"model": "any", "messages": "Hi"})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"] == body["conv_uid"] and body["id"]
    assert body["model"] == "scripted"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello there friend"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


async def test_stream_is_well_formed_sse_with_the_whole_answer(api: httpx.AsyncClient) -> None:
    response = await api.post(URL, json={"model": "any", "messages": "Hi", "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = parse_sse(response.text)
    assert len(chunks) > 2  # streamed in pieces, not one blob
    assert check_chunks(chunks) == "Hello there friend"


async def test_incremental_false_sends_the_text_so_far(api: httpx.AsyncClient) -> None:
    response = await api.post(URL, json={"messages": "Hi", "stream": True, "incremental": False})
    texts = [c["choices"][0]["delta"]["content"] for c in parse_sse(response.text)[:-1]]
    assert texts[-1] == "Hello there friend"
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))


async def test_dbgpt_client_style_nulls_are_accepted(api: httpx.AsyncClient) -> None:
    body = {
        "model": "m",
        "messages": "Hi",
        "temperature": None,
        "chat_mode": None,
        "conv_uid": None,
        "max_new_tokens": None,
        "chat_param": None,
        "user_name": None,
        "sys_code": None,
        "span_id": None,
        "incremental": True,
        "enable_vis": True,
        "stream": False,
    }
    response = await api.post(URL, json=body)
    assert response.status_code == 200, response.text


async def test_same_conv_uid_carries_history_over_rest(api: httpx.AsyncClient, scripted: ScriptedChatModel) -> None:
    first = (await api.post(URL, json={"messages": "My dog is Rex."})).json()
    await api.post(URL, json={"messages": "Who is my dog?", "conv_uid": first["id"], "stream": True})
    assert scripted.texts(1)[1:] == ["My dog is Rex.", "Hello there friend", "Who is my dog?"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing API key"),
        ({"Authorization": "Bearer nope"}, "invalid API key"),
        ({"Authorization": "Basic dGVzdC1rZXk="}, "missing API key"),
    ],
)
@pytest.mark.parametrize("path", [URL, "/mcp"])
async def test_wrong_or_missing_key_is_401_envelope(
    api: httpx.AsyncClient, headers: dict[str, str], reason: str, path: str
) -> None:
    response = await api.post(path, json={"messages": "Hi"}, headers={"Authorization": "", **headers})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"success": False, "err_code": "401", "err_msg": response.json()["err_msg"], "data": None}
    assert reason in response.json()["err_msg"]


async def test_the_docs_page_lists_every_route_with_its_body(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    page = (await api.get("/docs")).text
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            assert f"<code>{method.upper()}</code></td><td><code>{path}</code>" in page
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                assert body["$ref"].rsplit("/", 1)[-1] in spec["components"]["schemas"]
    chat = spec["paths"][URL]["post"]
    assert set(chat["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    event = chat["responses"]["200"]["content"]["text/event-stream"]["schema"]["properties"]["data"]["anyOf"]
    assert event[0] == {"const": "[DONE]"} and event[1]["contentSchema"]["$ref"].endswith("/ChatCompletionChunk")
    request = spec["components"]["schemas"]["ChatRequest"]
    modes = ["chat_normal", "chat_data", "chat_knowledge", "chat_app", "chat_flow"]  # what this server has
    assert spec["components"]["schemas"]["ChatMode"]["enum"] == modes
    assert request["allOf"][0]["then"]["required"] == ["chat_param"]
    assert chat["security"] == [{"bearer": []}] and "security" not in spec["paths"]["/health"]["get"]
    assert "<script" not in page  # offline: nothing fetched from a CDN


async def test_health_docs_and_openapi_are_open(api: httpx.AsyncClient) -> None:
    for path in ("/health", "/docs", "/openapi.json"):
        assert (await api.get(path, headers={"Authorization": ""})).status_code == 200
    spec = (await api.get("/openapi.json")).json()
    assert "post" in spec["paths"][URL]
    assert "messages" in spec["components"]["schemas"]["ChatRequest"]["properties"]
    assert URL in (await api.get("/docs")).text


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (json.dumps({"model": "m"}).encode(), "messages"),
        (json.dumps({"messages": ""}).encode(), "messages"),
        (json.dumps({"messages": []}).encode(), "messages"),
        (json.dumps({"messages": "hi", "chat_mode": "chat_magic"}).encode(), "chat_mode"),
        (json.dumps({"messages": "hi", "temperature": 2.5}).encode(), "temperature"),
        (json.dumps({"messages": "hi", "temperature": -0.1}).encode(), "temperature"),
        (json.dumps({"messages": "hi", "temperature": "hot"}).encode(), "temperature"),
        (json.dumps({"messages": "hi", "max_new_tokens": -5}).encode(), "max_new_tokens"),
        (json.dumps({"messages": "hi", "max_tokens": 0}).encode(), "max_tokens"),
        (json.dumps({"messages": [{"role": "robot", "content": "x"}]}).encode(), "messages"),
        (json.dumps({"messages": [{"role": "assistant", "content": "x"}]}).encode(), "messages"),
    ],
)
async def test_bad_input_is_400_naming_the_field(api: httpx.AsyncClient, content: bytes, field: str) -> None:
    response = await api.post(URL, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["err_code"] == "E0001" and body["data"] is None
    assert field in body["err_msg"]


async def test_a_mode_without_its_target_names_chat_param(api: httpx.AsyncClient) -> None:
    response = await api.post(URL, json={"messages": "hi", "chat_mode": "chat_flow"})
    assert response.status_code == 400
    assert response.json()["err_msg"] == "chat_param must name the flow (its uid) for chat_flow"


async def test_unknown_path_and_wrong_method_are_json(api: httpx.AsyncClient) -> None:
    missing = await api.get("/api/v2/nothing-here")
    assert missing.status_code == 404 and missing.json()["success"] is False
    wrong = await api.get(URL)
    assert wrong.status_code == 405 and wrong.json()["success"] is False


async def test_full_line_is_429_with_retry_after(api: httpx.AsyncClient, runtime: Runtime) -> None:
    gate = runtime.llm.gate
    held = [gate.admit() for _ in range(gate.max_active + gate.max_waiting)]
    try:
        response = await api.post(URL, json={"messages": "hi", "stream": True})
    finally:
        for admission in held:
            admission.release()
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert "busy" in response.json()["err_msg"]


async def test_failure_mid_stream_is_an_error_event_then_done(settings) -> None:
    runtime = Runtime(settings, chat_model=BrokenStreamModel.replying("unused"))
    try:
        async for client in _client(runtime):
            response = await client.post(URL, json={"messages": "hi", "stream": True})
    finally:
        runtime.close()
    chunks = parse_sse(response.text)
    assert chunks[0]["choices"][0]["delta"]["content"] == "partial "
    assert chunks[-1]["error"]["status"] == 502
    assert "could not be reached" in chunks[-1]["choices"][0]["delta"]["content"]


async def test_oversized_body_is_413_envelope(api: httpx.AsyncClient) -> None:
    from server.requests import MAX_BODY_BYTES

    response = await api.post(
        URL, content=b'{"messages": "' + b"x" * MAX_BODY_BYTES + b'"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["success"] is False
