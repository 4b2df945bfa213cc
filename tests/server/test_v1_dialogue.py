"""`/api/v1/chat/dialogue/*`: DB-GPT's conversation list, new, history, delete and scenes over the store, with the
shapes its web UI reads and clear refusals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from dbgpt_tools.chat.conversations import AGENT_MODE, ConversationInfo
from dbgpt_tools.chat.markup import render_artifact
from dbgpt_tools.chat.models import ChatMode, QueryArtifact, StoredMessage
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.sql.results import QueryResult
from tests.envelope import data
from tests.markup import chart_views

pytestmark = pytest.mark.anyio
BASE = "/api/v1/chat/dialogue"
ITEM_KEYS = {
    "conv_uid",
    "user_input",
    "chat_mode",
    "app_code",
    "select_param",
    "model_name",
    "user_name",
    "sys_code",
    "gmt_created",
    "gmt_modified",
}


def keep(runtime: Runtime, conv_uid: str, mode: ChatMode | str, param: str | None = None, turns: int = 1) -> None:
    info = ConversationInfo.model_validate({"conv_uid": conv_uid, "chat_mode": mode, "chat_param": param})
    for number in range(1, turns + 1):
        messages = [
            StoredMessage(role="user", content=f"{conv_uid} question {number}"),
            StoredMessage(role="assistant", content=f"answer {number}"),
        ]
        runtime.conversations.append(info, messages)


async def test_new_list_history_delete_round_trip(api: httpx.AsyncClient, runtime: Runtime) -> None:
    new = data(await api.post(f"{BASE}/new?chat_mode=chat_normal&model_name=undefined", json={"chat_mode": "x"}))
    assert new["chat_mode"] == "chat_normal" and new["user_input"] == "" and new["app_code"] == "chat_normal"
    assert set(new) == {"conv_uid", "chat_mode", "user_input", "app_code", "user_name", "sys_code"}
    agent = data(await api.post(f"{BASE}/new?chat_mode=chat_react_agent&model_name=undefined"))
    assert agent["chat_mode"] == "chat_react_agent" and agent["conv_uid"] != new["conv_uid"]  # a knowledge page asks
    assert data(await api.get(f"{BASE}/list")) == []  # kept from its first answer on, as in DB-GPT
    keep(runtime, new["conv_uid"], ChatMode.chat_normal, turns=2)
    [item] = data(await api.get(f"{BASE}/list"))
    assert set(item) == ITEM_KEYS and item["conv_uid"] == new["conv_uid"] and item["model_name"] == "scripted"
    assert item["user_input"] == f"{new['conv_uid']} question 1" and item["chat_mode"] == "chat_normal"
    assert datetime.fromisoformat(item["gmt_created"]).tzinfo is not None
    history = data(await api.get(f"{BASE}/messages/history", params={"con_uid": new["conv_uid"]}))
    assert [(m["role"], m["order"], m["context"]) for m in history] == [
        ("human", 1, f"{new['conv_uid']} question 1"),
        ("view", 1, "answer 1"),
        ("human", 2, f"{new['conv_uid']} question 2"),
        ("view", 2, "answer 2"),
    ]
    assert all(m["model_name"] == "scripted" for m in history)
    assert data(await api.post(f"{BASE}/delete", params={"con_uid": new["conv_uid"]})) is None
    assert data(await api.get(f"{BASE}/list")) == []
    assert data(await api.get(f"{BASE}/messages/history", params={"con_uid": new["conv_uid"]})) == []
    gone = data(await api.post(f"{BASE}/delete", params={"con_uid": new["conv_uid"]}), 404)
    assert new["conv_uid"] in gone["err_msg"]


async def test_modes_show_as_the_scenes_the_ui_opens(api: httpx.AsyncClient, runtime: Runtime) -> None:
    keep(runtime, "c-data", ChatMode.chat_data, "sample_sales")
    keep(runtime, "c-app", ChatMode.chat_app, "sales_app")
    keep(runtime, "c-home", AGENT_MODE)
    keep(runtime, "c-space", ChatMode.chat_knowledge, "handbook")
    listed = {item["conv_uid"]: item for item in data(await api.get(f"{BASE}/list"))}
    shown = {uid: (item["chat_mode"], item["select_param"], item["app_code"]) for uid, item in listed.items()}
    assert shown == {
        "c-data": ("chat_with_db_execute", "sample_sales", "chat_with_db_execute"),
        "c-app": ("chat_agent", "sales_app", "sales_app"),
        "c-home": (AGENT_MODE, None, AGENT_MODE),
        "c-space": ("chat_knowledge", "handbook", "chat_knowledge"),
    }


async def test_query_page_of_the_home_pages_conversations(api: httpx.AsyncClient, runtime: Runtime) -> None:
    for number in range(3):
        keep(runtime, f"home-{number}", AGENT_MODE)
    keep(runtime, "classic", ChatMode.chat_normal)
    url = f"{BASE}/query_page?page=1&page_size=2"
    page = data(await api.post(url, json={"chat_mode": AGENT_MODE}))
    assert {k: v for k, v in page.items() if k != "items"} == {
        "total_count": 3,
        "total_pages": 2,
        "page": 1,
        "page_size": 2,
    }
    assert [item["conv_uid"] for item in page["items"]] == ["home-2", "home-1"]
    assert all(set(item) == ITEM_KEYS for item in page["items"])
    everything = data(await api.post(f"{BASE}/query_page"))  # no body: every conversation
    assert everything["total_count"] == 4 and everything["page_size"] == 20
    db = data(await api.post(f"{BASE}/query_page", json={"chat_mode": "chat_with_db_qa"}))
    assert db["items"] == [] and db["total_count"] == 0


async def test_history_shows_an_answers_rows_as_chart_view(api: httpx.AsyncClient, runtime: Runtime) -> None:
    rows = QueryResult(columns=["n"], rows=[[3]], row_count=1, truncated=False, limit_applied=10, elapsed_ms=1, sql="x")
    artifact = QueryArtifact(result=rows, chart_type="response_table")
    info = ConversationInfo(conv_uid="c-rows", chat_mode=ChatMode.chat_data, chat_param="db")
    answer = StoredMessage(role="assistant", content="There are 3.", artifacts=[artifact])
    runtime.conversations.append(info, [StoredMessage(role="user", content="How many?"), answer])
    [_, view] = data(await api.get(f"{BASE}/messages/history", params={"con_uid": "c-rows"}))
    assert view["context"] == "There are 3." + render_artifact(artifact, markup=True)
    assert chart_views(view["context"])[0]["data"] == [{"n": 3}]


async def test_scenes_are_the_ones_served_here(api: httpx.AsyncClient) -> None:
    scenes = data(await api.post(f"{BASE}/scenes"))
    assert [s["chat_scene"] for s in scenes] == [
        "chat_with_db_execute",
        "chat_with_db_qa",
        "chat_knowledge",
        "chat_agent",
    ]
    assert all(set(s) == {"chat_scene", "scene_name", "scene_describe", "param_title", "show_disable"} for s in scenes)
    assert scenes[0]["param_title"] == "DB Select" and scenes[2]["param_title"] == "Knowledge Space Select"


async def test_clear_empties_a_conversation_and_keeps_it(api: httpx.AsyncClient, runtime: Runtime) -> None:
    keep(runtime, "c-clear", ChatMode.chat_normal)
    assert data(await api.post(f"{BASE}/clear", params={"con_uid": "c-clear"})) is None
    assert data(await api.get(f"{BASE}/messages/history", params={"con_uid": "c-clear"})) == []
    [item] = data(await api.get(f"{BASE}/list"))
    assert (item["conv_uid"], item["user_input"]) == ("c-clear", "")


BAD_REQUESTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("GET", "/messages/history", {}, "con_uid"),
    ("GET", "/messages/history?con_uid=a%20b", {}, "con_uid"),
    ("GET", "/messages/history?con_uid=a&con_uid=b", {}, "con_uid"),
    ("POST", "/delete", {}, "con_uid"),
    ("POST", "/delete?con_uid=" + "x" * 200, {}, "con_uid"),
    ("POST", "/new?chat_mode=chat_excel", {}, "chat_mode"),
    ("POST", "/query_page", {"json": {"chat_mode": "chat_dashboard"}}, "chat_mode"),
    ("POST", "/query_page", {"json": {"chat_mode": 3}}, "chat_mode"),
    ("POST", "/query_page", {"content": b"{nope"}, "JSON"),
    ("POST", "/query_page", {"content": b"null"}, "dictionary"),
    ("POST", "/query_page?page=0", {}, "page"),
    ("POST", "/query_page?page_size=5000", {}, "page_size"),
    ("GET", "/list?page=x", {}, "page"),
    ("GET", "/list?color=red", {}, "color"),
]


async def test_bad_requests_are_400_envelopes_naming_the_field(api: httpx.AsyncClient) -> None:
    for method, path, options, field in BAD_REQUESTS:
        refusal = data(await api.request(method, BASE + path, **options), 400)
        assert field in refusal["err_msg"], (path, refusal)


async def test_without_a_key_the_dialogue_routes_are_401(api: httpx.AsyncClient) -> None:
    for method, path in [("GET", "/list"), ("POST", "/new"), ("POST", "/scenes"), ("GET", "/messages/history")]:
        response = await api.request(method, BASE + path, headers={"Authorization": ""})
        assert data(response, 401)["err_code"] == "401"
