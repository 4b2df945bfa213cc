"""The v1 calls every page of DB-GPT's web UI makes (models, app info, mode params, the empty lists) and the 404 of
what makes no sense here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

import httpx
import pytest

from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from dbgpt_tools.sql.datasource_models import DbType
from server.api.v1.ui_support import UNSUPPORTED
from tests.envelope import data
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio
# fmt: off
UI_DB_TYPES = {
    "mysql", "oceanbase", "mssql", "duckdb", "sqlite", "clickhouse", "oracle", "access", "mongodb", "doris",
    "starrocks", "db2", "hbase", "redis", "cassandra", "couchbase", "omc", "postgresql", "gaussdb", "vertica", "spark",
    "hive", "maxcompute", "space", "tugraph", "neo4j",
}
# fmt: on
"""The database types the web UI's chat page knows (another type there blanks the page)."""


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def runtime(settings: Settings, scripted: ScriptedChatModel, embedder: LocalEmbedder) -> Iterator[Runtime]:
    rt = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=scripted, embedder=embedder)
    yield rt
    rt.close()


async def test_the_model_is_the_configured_one(api: httpx.AsyncClient) -> None:
    assert data(await api.get("/api/v1/model/types")) == ["scripted"]
    supports = data(await api.get("/api/v1/model/supports"))
    assert [(m["model"], m["worker_type"], m["proxy"]) for m in supports] == [
        ("scripted", "llm", False),
        ("all-MiniLM-L6-v2", "text2vec", False),
    ]
    workers = data(await api.get("/api/v1/worker/model/list"))
    assert [(w["model_name"], w["model_type"], w["healthy"]) for w in workers] == [
        ("scripted", "llm", True),
        ("all-MiniLM-L6-v2", "text2vec", True),
    ]


EMPTY_LISTS = [
    ("GET", "/api/v1/skills/list"),
    ("GET", "/api/v1/question/list?is_hot_question=true"),
    ("POST", "/api/v1/app/hot/list"),
    ("GET", "/api/v1/agent/files?session_id=c-1"),
    ("GET", "/api/v1/agent/files"),
    ("GET", "/api/v2/serve/connectors/"),
]


async def test_what_does_not_exist_here_is_an_empty_list_never_null(api: httpx.AsyncClient) -> None:
    for method, path in EMPTY_LISTS:
        assert data(await api.request(method, path, json={"page_no": "1", "page_size": "6"})) == [], path


async def test_app_info_offers_each_scenes_choices(api: httpx.AsyncClient) -> None:
    for scene, resource in [
        ("chat_with_db_execute", "database"),
        ("chat_knowledge", "knowledge"),
        ("chat_normal", None),
    ]:
        info = data(await api.get("/api/v1/app/info", params={"chat_scene": scene, "app_code": scene}))
        assert info["app_code"] == scene and info["team_mode"] == "native_app"
        assert info["team_context"]["chat_scene"] == scene and info["recommend_questions"] == []
        needs = {need["type"]: need["value"] for need in info["param_need"]}
        assert needs.get("resource") == resource and needs["model"] == "scripted" and "temperature" in needs
    unknown = data(await api.get("/api/v1/app/info", params={"chat_scene": "chat_excel"}), 400)
    assert "chat_excel" in unknown["err_msg"]
    assert (
        "nope"
        in data(await api.get("/api/v1/app/info", params={"chat_scene": "chat_agent", "app_code": "nope"}), 404)[
            "err_msg"
        ]
    )


async def test_app_info_and_list_of_a_registered_app(api: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.apps.create({"app_name": "Sales", "app_code": "sales", "app_describe": "Sales questions."})
    info = data(await api.get("/api/v1/app/info", params={"chat_scene": "chat_agent", "app_code": "sales"}))
    assert (info["app_code"], info["app_name"], info["app_describe"]) == ("sales", "Sales", "Sales questions.")
    assert [need["type"] for need in info["param_need"]] == ["model", "temperature", "max_new_tokens"]
    page = data(
        await api.post("/api/v1/app/list?page=1&page_size=12", json={"page": 1, "page_size": 12, "app_name": ""})
    )
    assert [app["app_code"] for app in page["app_list"]] == ["sales"]
    assert (page["total_count"], page["total_page"], page["current_page"]) == (1, 1, 1)
    assert "page_size" in data(await api.post("/api/v1/app/list?page_size=0"), 400)["err_msg"]


async def test_mode_params_list_the_datasources_and_spaces(api: httpx.AsyncClient, runtime: Runtime) -> None:
    databases = data(await api.post("/api/v1/chat/mode/params/list?chat_mode=chat_with_db_qa"))
    assert [(p["param"], p["type"]) for p in databases] == [("sample_sales", "sqlite"), ("sample_logistics", "sqlite")]
    assert data(await api.post("/api/v1/chat/mode/params/list?chat_mode=chat_with_db_execute")) == databases
    assert data(await api.post("/api/v1/chat/mode/params/list?chat_mode=chat_knowledge")) == []
    space = runtime.knowledge.spaces.create({"name": "handbook"})
    spaces = data(await api.post("/api/v1/chat/mode/params/list?chat_mode=chat_knowledge"))
    assert spaces == [{"param": "handbook", "type": "space", "space_id": space.id}]
    assert data(await api.post("/api/v1/chat/mode/params/list?chat_mode=chat_normal")) == []
    assert "chat_mode" in data(await api.post("/api/v1/chat/mode/params/list?chat_mode=chat_excel"), 400)["err_msg"]


def test_every_database_type_served_is_one_the_ui_knows() -> None:
    assert set(get_args(DbType)) <= UI_DB_TYPES


async def test_what_makes_no_sense_here_is_a_404_saying_so(api: httpx.AsyncClient) -> None:
    for (method, path), reason in UNSUPPORTED.items():
        refusal = data(await api.request(method, path), 404)
        assert refusal["err_msg"] == f"not supported by dbgpt-tools: {reason}"
    spec = (await api.get("/openapi.json")).json()
    assert "404" in spec["paths"]["/api/v1/agent/install"]["post"]["summary"]


async def test_without_a_key_these_routes_are_401(api: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/model/types"),
        ("POST", "/api/v1/agent/install"),
        ("GET", "/api/v1/app/info"),
    ]:
        assert data(await api.request(method, path, headers={"Authorization": ""}), 401)["err_code"] == "401"
