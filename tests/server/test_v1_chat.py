"""`/api/v1/chat/completions` and `/api/v1/chat/react-agent` as DB-GPT's web UI reads them: the whole text so far
in every event, `final` + `done` on the home page, refusals inside the stream, the conversation kept."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.asgi import rest_client
from tests.envelope import data
from tests.markup import chart_views
from tests.scripted import BrokenStreamModel, ScriptedChatModel
from tests.sse import check_chunks, parse_sse

pytestmark = pytest.mark.anyio
COMPLETIONS = "/api/v1/chat/completions"
AGENT = "/api/v1/chat/react-agent"
KNOWLEDGE_AGENT = "/api/v1/chat/knowledge-agent"
HISTORY = "/api/v1/chat/dialogue/messages/history"
AGENT_MODE = "chat_react_agent"
SQL = "SELECT name FROM regions ORDER BY name"
SQL_REPLY = f"I will list them.\n```sql\n{SQL}\n```"
HANDBOOK = (
    "# Leave\n\nEvery employee gets 27 days of paid holiday per calendar year. Unused days expire in March.\n\n"
    "# Office\n\nThe office in Lyon opens at 8:00 and closes at 18:30. Visitors sign in at the front desk."
)


def turn(user_input: str, chat_mode: str = "chat_normal", **extra: Any) -> dict[str, Any]:
    """A classic-page turn as the web UI sends it."""
    body = {
        "conv_uid": "c-1",
        "app_code": chat_mode,
        "chat_mode": chat_mode,
        "model_name": "undefined",
        "user_input": user_input,
        "temperature": 0.6,
        "max_new_tokens": 4000,
        "select_param": "null",
    }
    return {**body, **extra}


def agent_turn(user_input: str, **ext_info: Any) -> dict[str, Any]:
    """A home-page turn as the web UI sends it."""
    return {
        "conv_uid": "home-1",
        "chat_mode": "chat_react_agent",
        "model_name": "scripted",
        "user_input": user_input,
        "temperature": 0.6,
        "max_new_tokens": 4000,
        "select_param": "",
        "ext_info": ext_info,
    }


def stream_data(response: httpx.Response) -> list[str]:
    """The `data` of every event of a v1 stream (ping comments left out); asserts the framing."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [event for event in response.text.split("\n\n") if event and not event.startswith(":")]
    for event in events:
        assert event.startswith("data:") and "\n" not in event, event
    return [event.removeprefix("data:").removeprefix(" ") for event in events]


def completions(response: httpx.Response) -> list[dict[str, Any]]:
    """Every completions event: DB-GPT's `chat.completion` object."""
    events = [json.loads(event) for event in stream_data(response)]
    for event in events:
        assert event["object"] == "chat.completion" and event["id"] == "c-1"
        assert event["choices"][0]["message"]["role"] == "assistant"
    return events


def contents(response: httpx.Response) -> list[str]:
    """The text of every completions event: the whole answer so far."""
    texts = []
    for body in completions(response):
        assert body["choices"][0]["message"]["role"] == "assistant"
        texts.append(body["choices"][0]["message"]["content"])
    return texts


def agent_events(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(event) for event in stream_data(response)]


@pytest.fixture
def data_runtime(settings: Settings) -> Iterator[tuple[Runtime, ScriptedChatModel]]:
    model = ScriptedChatModel.replying(*[SQL_REPLY] * 6)
    runtime = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=model)
    yield runtime, model
    runtime.close()


@pytest.fixture
async def data_api(data_runtime: tuple[Runtime, ScriptedChatModel]) -> AsyncIterator[httpx.AsyncClient]:
    async with rest_client(data_runtime[0]) as client:
        yield client


async def test_each_event_carries_the_whole_answer_so_far(api: httpx.AsyncClient) -> None:
    response = await api.post(COMPLETIONS, json=turn("Hi"))
    texts = contents(response)
    assert len(texts) > 2 and texts[-1] == "Hello there friend"
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    last = json.loads(stream_data(response)[-1])
    assert last["choices"][0]["finish_reason"] == "stop" and set(last["usage"]) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
    }
    assert "[DONE]" not in response.text  # DB-GPT 0.8.2 closes the stream instead


async def test_the_conversation_is_kept_and_continued(api: httpx.AsyncClient, scripted: ScriptedChatModel) -> None:
    await api.post(COMPLETIONS, json=turn("My dog is Rex."))
    await api.post(COMPLETIONS, json=turn("Who is my dog?"))
    assert scripted.texts(-1)[1:] == ["My dog is Rex.", "Hello there friend", "Who is my dog?"]
    history = data(await api.get(HISTORY, params={"con_uid": "c-1"}))
    assert [(m["role"], m["context"], m["order"]) for m in history] == [
        ("human", "My dog is Rex.", 1),
        ("view", "Hello there friend", 1),
        ("human", "Who is my dog?", 2),
        ("view", "Hello there friend", 2),
    ]
    [listed] = data(await api.get("/api/v1/chat/dialogue/list"))
    assert (listed["conv_uid"], listed["chat_mode"], listed["user_input"]) == ("c-1", "chat_normal", "My dog is Rex.")


async def test_temperature_and_token_cap_reach_the_model(api: httpx.AsyncClient, scripted: ScriptedChatModel) -> None:
    await api.post(COMPLETIONS, json=turn("Hi", temperature=0.25, max_new_tokens=77))
    assert scripted.options[-1]["temperature"] == 0.25 and scripted.options[-1]["max_tokens"] == 77


async def test_chat_with_db_scenes_answer_with_the_v2_chart_view(
    data_api: httpx.AsyncClient, data_runtime: tuple[Runtime, ScriptedChatModel]
) -> None:
    v2 = await data_api.post(
        "/api/v2/chat/completions",
        json={"messages": "Regions?", "chat_mode": "chat_data", "chat_param": "sample_sales"},
    )
    for scene in ("chat_with_db_execute", "chat_with_db_qa"):
        texts = contents(await data_api.post(COMPLETIONS, json=turn("Regions?", scene, select_param="sample_sales")))
        assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
        assert texts[-1] == v2.json()["choices"][0]["message"]["content"]  # the same renderer, the same markup
    [view] = chart_views(texts[-1])
    assert view["sql"] == SQL and view["type"] == "response_table" and len(view["data"]) == 5
    history = data(await data_api.get(HISTORY, params={"con_uid": "c-1"}))
    assert chart_views(history[-1]["context"]) == [view]  # an old conversation opens with its table
    assert "sample_sales" in data_runtime[1].texts(-1)[0]  # the datasource's schema was in the prompt


async def test_incremental_true_streams_openai_deltas(api: httpx.AsyncClient) -> None:
    response = await api.post(COMPLETIONS, json=turn("Hi", incremental=True))
    assert check_chunks(parse_sse(response.text)) == "Hello there friend"


MALFORMED = [
    (turn("Hi", chat_mode="chat_excel"), "chat_mode"),
    (turn("Hi", temperature=5), "temperature"),
    (turn("Hi", max_new_tokens=0), "max_new_tokens"),
    (turn("Hi", select_param={"file": "x"}), "select_param"),
    (turn("Hi", conv_uid="not an id!"), "conv_uid"),
    (turn("   "), "user_input: Value error, the question must not be empty"),
    (turn("Hi", incremental="yes"), "incremental"),
]


async def test_a_malformed_turn_is_a_400_envelope(api: httpx.AsyncClient, scripted: ScriptedChatModel) -> None:
    for body, field in MALFORMED:
        refusal = data(await api.post(COMPLETIONS, json=body), 400)
        assert field in refusal["err_msg"], (field, refusal)
    assert scripted.calls == []


async def test_a_body_that_is_not_json_is_a_400_envelope(api: httpx.AsyncClient) -> None:
    for path in (COMPLETIONS, AGENT, "/api/v1/chat/prepare"):
        assert "not valid JSON" in data(await api.post(path, content=b"{nope"), 400)["err_msg"]
        assert "JSON object" in data(await api.post(path, json=["Hi"]), 400)["err_msg"]


async def test_a_refused_turn_comes_as_an_error_event_the_ui_shows(data_api: httpx.AsyncClient) -> None:
    [unknown] = completions(await data_api.post(COMPLETIONS, json=turn("Hi", "chat_with_db_qa", select_param="nope")))
    assert unknown["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "[ERROR]db_name: no datasource 'nope'"},
        "finish_reason": "stop",
    }
    assert unknown["error"] == {"message": "db_name: no datasource 'nope'", "code": "E0003", "status": 404}
    unchosen = contents(await data_api.post(COMPLETIONS, json=turn("Hi", "chat_with_db_execute")))
    assert unchosen == ["[ERROR]chat_data needs select_param: a datasource's db_name"]
    [space] = contents(await data_api.post(COMPLETIONS, json=turn("Hi", "chat_knowledge", select_param="nope")))
    assert space.startswith("[ERROR]") and "nope" in space
    deltas = parse_sse((await data_api.post(COMPLETIONS, json=turn("Hi", "chat_with_db_qa", incremental=True))).text)
    assert deltas[-1]["error"]["status"] == 400  # a delta stream ends as the v2 one does


async def test_a_failure_mid_answer_ends_the_stream_with_an_error_event(settings: Settings) -> None:
    runtime = Runtime(settings, chat_model=BrokenStreamModel.replying("unused"))
    try:
        async with rest_client(runtime) as client:
            events = stream_data(await client.post(COMPLETIONS, json=turn("Hi")))
            history = data(await client.get(HISTORY, params={"con_uid": "c-1"}))
    finally:
        runtime.close()
    assert json.loads(events[0])["choices"][0]["message"]["content"] == "partial "
    failed = json.loads(events[-1])
    assert failed["choices"][0]["message"]["content"].startswith("[ERROR]") and failed["error"]["status"] == 502
    assert history[-1] == {**history[-1], "role": "view", "context": "partial "}  # what was said is kept


async def test_prepare_answers_the_conversations_history(api: httpx.AsyncClient) -> None:
    assert data(await api.post("/api/v1/chat/prepare", json=turn(""))) == []
    await api.post(COMPLETIONS, json=turn("Hi"))
    prepared = data(await api.post("/api/v1/chat/prepare", json=turn("")))
    assert [m["role"] for m in prepared] == ["human", "view"]


async def test_home_page_turn_streams_its_text_then_final_and_done(api: httpx.AsyncClient) -> None:
    events = agent_events(await api.post(AGENT, json=agent_turn("hello")))
    kinds = [event["type"] for event in events]
    assert kinds[0] == "step.start" and kinds[-3:] == ["step.done", "final", "done"]
    written = "".join(event["content"] for event in events if event["type"] == "step.chunk")
    final = events[-2]
    assert final == {"type": "final", "protocol_version": 2, "content": "Hello there friend", "citations": []}
    assert written == final["content"] and kinds.count("step.chunk") > 1  # streamed as the model writes


async def test_home_page_conversations_are_listed_as_chat_react_agent(
    api: httpx.AsyncClient, scripted: ScriptedChatModel
) -> None:
    await api.post(AGENT, json=agent_turn("first question"))
    await api.post(AGENT, json=agent_turn("second question"))
    await api.post(COMPLETIONS, json=turn("classic"))
    assert scripted.texts(1)[1:] == ["first question", "Hello there friend", "second question"]
    page = data(await api.post("/api/v1/chat/dialogue/query_page?page=1&page_size=20", json={"chat_mode": AGENT_MODE}))
    assert [(i["conv_uid"], i["chat_mode"], i["user_input"]) for i in page["items"]] == [
        ("home-1", AGENT_MODE, "first question")
    ]
    listed = {item["conv_uid"]: item["chat_mode"] for item in data(await api.get("/api/v1/chat/dialogue/list"))}
    assert listed == {"home-1": AGENT_MODE, "c-1": "chat_normal"}
    human, view, *_ = data(await api.get(HISTORY, params={"con_uid": "home-1"}))
    assert (human["role"], human["context"]) == ("human", "first question")
    kept = json.loads(view["context"])  # as DB-GPT keeps a react-agent turn: the reopened page shows its step
    assert (kept["version"], kept["type"], kept["final_content"]) == (2, "react-agent", "Hello there friend")
    assert kept["steps"] == [
        {"id": "answer", "title": "Writing the answer", "detail": "", "status": "done", "action": "chat_normal"}
    ]


async def test_home_page_database_turn_runs_chat_data_without_the_ui_prefix(
    data_api: httpx.AsyncClient, data_runtime: tuple[Runtime, ScriptedChatModel]
) -> None:
    body = agent_turn("[Database: sample_sales] Regions?", database_name="sample_sales", database_type="sqlite")
    events = agent_events(await data_api.post(AGENT, json=body))
    assert data_runtime[1].texts(-1)[-1] == "Regions?"
    assert events[0]["title"] == "Querying sample_sales" and events[0]["action"] == "chat_data"
    final = events[-2]
    [view] = chart_views(final["content"])
    assert view["sql"] == SQL and len(view["data"]) == 5 and events[-1] == {"type": "done"}
    assert final["content"].startswith("I will list them.")
    kept = json.loads(data(await data_api.get(HISTORY, params={"con_uid": "home-1"}))[-1]["context"])
    assert kept["final_content"] == final["content"] and kept["steps"][0]["action"] == "chat_data"


async def test_home_page_refusals_and_failures_end_with_final_and_done(data_api: httpx.AsyncClient) -> None:
    refused = agent_events(await data_api.post(AGENT, json=agent_turn("Hi", database_name="nope")))
    assert refused == [
        {"type": "final", "protocol_version": 2, "content": "db_name: no datasource 'nope'", "citations": []},
        {"type": "done"},
    ]
    for path in (AGENT, KNOWLEDGE_AGENT):  # a space page's chat asks the same way
        space = agent_events(await data_api.post(path, json=agent_turn("Hi", knowledge_space_name="nope")))
        assert [e["type"] for e in space] == ["final", "done"] and "no knowledge space" in space[0]["content"]


async def test_home_page_failure_mid_answer_keeps_what_was_written(settings: Settings) -> None:
    runtime = Runtime(settings, chat_model=BrokenStreamModel.replying("unused"))
    try:
        async with rest_client(runtime) as client:
            events = agent_events(await client.post(AGENT, json=agent_turn("Hi")))
    finally:
        runtime.close()
    assert [e["type"] for e in events[-3:]] == ["step.done", "final", "done"] and events[-3]["status"] == "failed"
    assert events[-2]["content"].startswith("partial \n\n**Error:** ")


async def test_a_malformed_home_page_turn_is_a_400_envelope(api: httpx.AsyncClient) -> None:
    bad = agent_turn("Hi", database_name=["x"])
    assert "ext_info.database_name" in data(await api.post(AGENT, json=bad), 400)["err_msg"]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


async def test_home_page_knowledge_turn_cites_the_spaces_chunks(settings: Settings, embedder: LocalEmbedder) -> None:
    runtime = Runtime(settings, chat_model=ScriptedChatModel.replying("27 days [1]."), embedder=embedder)
    try:
        runtime.knowledge.spaces.create({"name": "handbook"})
        document = runtime.knowledge.add_document("handbook", "handbook.md", content=HANDBOOK)
        assert (await runtime.knowledge.wait(document.id)).status == "FINISHED"
        async with rest_client(runtime) as client:
            body = agent_turn("[Knowledge: handbook] How many days of paid holiday?", knowledge_space_name="handbook")
            events = agent_events(await client.post(AGENT, json=body))
            history = data(await client.get(HISTORY, params={"con_uid": "home-1"}))
    finally:
        runtime.close()
    final = events[-2]
    assert final["content"] == "27 days [1]." and "<references" not in final["content"]
    first = final["citations"][0]
    assert first["index"] == 1 and first["sourceName"] == "handbook.md" and "27 days" in first["excerpt"]
    assert set(first) == {"index", "id", "sourceName", "excerpt", "score", "path", "url"}
    kept = json.loads(history[-1]["context"])  # a reopened conversation cites the same sources
    assert kept["final_content"] == final["content"] and kept["citations"] == final["citations"]
    assert kept["steps"][0]["title"] == "Searching handbook"


async def test_without_a_key_every_chat_route_is_401(api: httpx.AsyncClient, scripted: ScriptedChatModel) -> None:
    for path in (COMPLETIONS, AGENT, KNOWLEDGE_AGENT, "/api/v1/chat/prepare"):
        response = await api.post(path, json=turn("Hi"), headers={"Authorization": ""})
        assert data(response, 401)["err_code"] == "401"
        wrong = await api.post(path, json=turn("Hi"), headers={"Authorization": "Bearer nope"})
        assert "invalid API key" in data(wrong, 401)["err_msg"]
    assert scripted.calls == []
