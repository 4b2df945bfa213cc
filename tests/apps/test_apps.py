"""Apps: DB-GPT's app routes in the envelope, and chat_app answering with the app's datasource, knowledge space
or prompt template, multi-turn; a deleted resource makes the app answer with that resource's 404."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dbgpt_tools.chat.models import ChatMode, ChatRequest, QueryArtifact, ReferencesArtifact
from dbgpt_tools.knowledge.embeddings import LocalEmbedder
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.settings import Settings
from tests.envelope import data
from tests.scripted import ScriptedChatModel

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": "Bearer test-key"}
APPS = "/api/v2/serve/apps"
GUIDE = "# Ports\n\nThe server listens on port 5670.\n\n# Keys\n\nAPI keys travel as Bearer tokens."


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel.replying(*["Answer one.", "```sql\nSELECT COUNT(*) AS n FROM regions\n```"] * 5)


@pytest.fixture
def runtime(settings: Settings, model: ScriptedChatModel, embedder: LocalEmbedder) -> Iterator[Runtime]:
    rt = Runtime(settings.model_copy(update={"sample_db": True}), chat_model=model, embedder=embedder)
    rt.knowledge.spaces.create({"name": "docs"})
    document = rt.knowledge.add_document("docs", "g.md", content=GUIDE)
    assert asyncio.run(rt.knowledge.wait(document.id)).status == "FINISHED"
    yield rt
    rt.close()


def app_body(
    code: str, name: str, kind: str | None = None, value: str = "", template: str | None = None
) -> dict[str, Any]:
    resources = [{"type": kind, "name": value, "value": value, "is_dynamic": False}] if kind else []
    detail = {"agent_name": "a", "resources": resources, "prompt_template": template, "llm_strategy": None}
    return {"app_code": code, "app_name": name, "app_describe": "d", "team_mode": "single_agent", "details": [detail]}


async def test_apps_have_dbgpt_shapes_and_clear_refusals(api: httpx.AsyncClient) -> None:
    created = data(await api.post(APPS, json=app_body("helper", "Helper", "knowledge", "docs")))
    assert created["app_code"] == "helper" and created["details"][0]["resources"][0]["value"] == "docs"
    assert created["details"][0]["app_code"] == "helper" and created["is_collected"] == "false"
    assert (await api.post(APPS, json=app_body("helper", "Other"))).status_code == 409
    assert (await api.post(APPS, json=app_body("other", "HELPER"))).status_code == 409
    named = data(await api.post(APPS, json={"app_name": "Made from a name!"}))
    assert named["app_code"] == "Made_from_a_name"
    listed = data(await api.get(APPS))
    assert [app["app_code"] for app in listed["app_list"]] == ["helper", "Made_from_a_name"]
    assert listed["total_count"] == 2 and listed["total_page"] == 1 and listed["current_page"] == 1
    updated = data(await api.put(APPS, json={**app_body("helper", "Helper"), "app_describe": "new"}))
    assert updated["app_describe"] == "new" and updated["details"][0]["resources"] == []
    assert (await api.put(APPS, json=app_body("missing", "Missing"))).status_code == 404
    assert (await api.get(f"{APPS}/missing")).status_code == 404
    assert (await api.get(f"{APPS}/bad%20code")).status_code == 400
    assert data(await api.delete(f"{APPS}/helper"))["app_code"] == "helper"
    assert (await api.get(f"{APPS}/helper")).status_code == 404
    assert (await api.post(APPS, json={"app_name": " "})).status_code == 400


async def test_chat_app_answers_with_the_apps_resource_and_template(runtime: Runtime, model: ScriptedChatModel) -> None:
    runtime.apps.create(app_body("kb", "KB", "knowledge", "docs", template="Answer like a pirate."))
    runtime.apps.create(app_body("sales", "Sales", "database", "sample_sales"))
    runtime.apps.create(app_body("plain", "Plain", template="You only say hello."))
    ask = {"chat_mode": ChatMode.chat_app}
    kb = await runtime.chat.complete(ChatRequest(messages="Which port?", chat_param="kb", **ask))
    system, template, question = model.texts(-1)
    assert "[1] g.md, Ports" in system and template == "Answer like a pirate." and question == "Which port?"
    assert isinstance(kb.artifacts[0], ReferencesArtifact) and kb.artifacts[0].space == "docs"
    sales = await runtime.chat.complete(ChatRequest(messages="How many regions?", chat_param="sales", **ask))
    assert isinstance(sales.artifacts[0], QueryArtifact) and sales.artifacts[0].result.row_count == 1
    plain = await runtime.chat.complete(ChatRequest(messages="Hi", chat_param="plain", **ask))
    assert model.texts(-1) == ["You only say hello.", "Hi"] and plain.content
    follow = await runtime.chat.complete(
        ChatRequest(messages="And?", chat_param="plain", conv_uid=plain.conv_uid, **ask)
    )
    assert model.texts(-1)[1:] == ["Hi", plain.content, "And?"] and follow.conv_uid == plain.conv_uid


async def test_an_app_whose_resource_is_gone_answers_with_its_404(api: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.apps.create(app_body("kb", "KB", "knowledge", "docs"))
    runtime.knowledge.spaces.delete(runtime.knowledge.spaces.resolve("docs").id)
    ask = {"model": "x", "messages": "Which port?", "chat_mode": "chat_app", "chat_param": "kb"}
    gone = await api.post("/api/v2/chat/completions", json=ask)
    assert gone.status_code == 404 and "no knowledge space 'docs'" in gone.json()["err_msg"]
    unknown = await api.post("/api/v2/chat/completions", json={**ask, "chat_param": "nope"})
    assert unknown.status_code == 404 and "no app 'nope'" in unknown.json()["err_msg"]
    streamed = await api.post("/api/v2/chat/completions", json={**ask, "stream": True, "chat_param": "nope"})
    assert streamed.status_code == 404


def test_a_new_server_registers_the_example_apps(settings: Settings, embedder: LocalEmbedder) -> None:
    runtime = Runtime(
        settings.model_copy(update={"sample_db": True, "sample_space": True}),
        chat_model=ScriptedChatModel.replying(),
        embedder=embedder,
    )
    try:
        runtime.start_background()
        runtime.start_background()  # once only
        assert [app.app_code for app in runtime.apps.page().app_list] == ["docs_helper", "sales_analyst"]
    finally:
        runtime.close()
