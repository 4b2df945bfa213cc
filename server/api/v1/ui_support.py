"""The v1 calls DB-GPT's web UI makes on every page that have a fixed or derived answer here (model types, app info,
mode params, hot questions...), and the clear 4xx of what makes no sense here.

Lists the UI reads are always lists (an empty one for what does not exist here: skills, questions, connectors, an
agent's files), never `null`: a `null` where the UI expects a list blanks its page.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, Field, RootModel, TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.apps.models import App, AppPage
from dbgpt_tools.chat.models import Label
from dbgpt_tools.errors import NotFound
from dbgpt_tools.runtime import Runtime
from dbgpt_tools.store.lookup import MAX_PAGE_SIZE
from server.api.v1.dialogue import CHAT_MODE, query_param
from server.api.v1.scenes import SCENE_SCHEMA, SCENES, Resource, Scene, scene
from server.api.v2.paging import PAGE, PAGE_SIZE, page_params
from server.openapi import Endpoint, Handler, Param
from server.responses import envelope


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


class Strings(RootModel[list[str]]):
    """Names."""


class Empty(RootModel[list[None]]):
    """Always empty: nothing of the kind exists here."""


async def empty_list(request: Request) -> Response:
    """An empty list, whatever the query (skills, questions, connectors, hot apps, an agent's files)."""
    return await envelope([])


async def model_types(request: Request) -> Response:
    return await envelope([_runtime(request).llm.model_name])


class SupportedModel(BaseModel):
    """A model this server runs (DB-GPT's `FlatSupportedModel`)."""

    model: str
    path: str = ""
    worker_type: Literal["llm", "text2vec"]
    path_exist: bool = True
    proxy: bool
    enabled: bool = True
    params: list[None] = Field(default_factory=list)
    host: str
    port: int


class SupportedModels(RootModel[list[SupportedModel]]):
    """The models this server runs."""


class WorkerModel(BaseModel):
    """A running model worker (DB-GPT's `ModelResponse`): here the one configured chat model and the embedding
    model, both in this process."""

    model_name: str
    model_type: Literal["llm", "text2vec"]
    host: str
    port: int
    manager_host: str
    manager_port: int
    healthy: bool = True
    check_healthy: bool = True
    last_heartbeat: str | None = None
    prompt_template: str | None = None


class WorkerModels(RootModel[list[WorkerModel]]):
    """The running models."""


def _models(runtime: Runtime) -> list[tuple[str, Literal["llm", "text2vec"], bool]]:
    """The chat model and the embedding model: name, kind, and whether an endpoint (a proxy) answers for it."""
    settings = runtime.settings
    return [
        (runtime.llm.model_name, "llm", settings.llm_backend == "openai"),
        (runtime.knowledge.embedder.model_name, "text2vec", settings.embedding_backend == "openai"),
    ]


async def model_supports(request: Request) -> Response:
    runtime = _runtime(request)
    host, port = runtime.settings.host, runtime.settings.port
    return await envelope(
        [
            SupportedModel(model=name, worker_type=kind, proxy=proxy, host=host, port=port)
            for name, kind, proxy in _models(runtime)
        ]
    )


async def worker_models(request: Request) -> Response:
    runtime = _runtime(request)
    host, port = runtime.settings.host, runtime.settings.port
    return await envelope(
        [
            WorkerModel(model_name=name, model_type=kind, host=host, port=port, manager_host=host, manager_port=port)
            for name, kind, _ in _models(runtime)
        ]
    )


class ParamNeed(BaseModel):
    """A choice a scene asks of the user (its `value`), or one it was bound to (`bind_value`)."""

    type: Literal["resource", "model", "temperature", "max_new_tokens"]
    value: str | int | None
    bind_value: str | None = None


class TeamContext(BaseModel):
    """The scene a native app chats in."""

    chat_scene: str
    scene_name: str
    scene_describe: str
    param_title: str


class AppInfo(BaseModel):
    """What the chat page reads of a scene or an app (DB-GPT's `GptsApp`): above all `param_need`, the choices it
    offers (a `resource` of type database or knowledge makes it list them through `chat/mode/params/list`)."""

    app_code: str
    app_name: str
    app_describe: str
    team_mode: str
    language: str = "en"
    team_context: TeamContext | str | None
    param_need: list[ParamNeed]
    recommend_questions: list[None] = Field(default_factory=list)
    details: list[dict[str, object]] = Field(default_factory=list)


def _param_need(runtime: Runtime, resource: Resource | None) -> list[ParamNeed]:
    needs = [
        ParamNeed(type="model", value=runtime.llm.model_name),
        ParamNeed(type="temperature", value=None),
        ParamNeed(type="max_new_tokens", value=runtime.settings.max_new_tokens),
    ]
    return [ParamNeed(type="resource", value=resource), *needs] if resource else needs


def native_app(runtime: Runtime, chosen: Scene) -> AppInfo:
    """A scene as DB-GPT's native app of it."""
    context = TeamContext(
        chat_scene=chosen.code,
        scene_name=chosen.name,
        scene_describe=chosen.describe,
        param_title=chosen.param_title,
    )
    return AppInfo(
        app_code=chosen.code,
        app_name=chosen.name,
        app_describe=chosen.describe,
        team_mode="native_app",
        team_context=context,
        param_need=_param_need(runtime, chosen.resource),
    )


def registered_app(runtime: Runtime, app: App) -> AppInfo:
    """An app of the registry: its resource is its own, so the page offers the model choices only."""
    return AppInfo(
        app_code=app.app_code,
        app_name=app.app_name,
        app_describe=app.app_describe,
        team_mode=app.team_mode,
        language=app.language,
        team_context=app.team_context,
        param_need=_param_need(runtime, None),
        details=app.details,
    )


async def app_info(request: Request) -> Response:
    runtime = _runtime(request)
    chat_scene = query_param(request, "chat_scene") or "chat_normal"
    app_code = query_param(request, "app_code")
    if app_code and app_code not in SCENES:
        app = await asyncio.to_thread(runtime.apps.get, app_code)
        return await envelope(registered_app(runtime, app))
    return await envelope(native_app(runtime, scene(app_code or chat_scene, "chat_scene")))


class ModeParam(BaseModel):
    """A resource a scene may ask about: a datasource (`type` its db_type) or a space (`type` "space")."""

    param: str
    type: str
    space_id: int | None = None
    comment: str | None = None


class ModeParams(RootModel[list[ModeParam]]):
    """The resources of a scene."""


def mode_params(runtime: Runtime, resource: Resource | None) -> list[ModeParam]:
    """The datasources or spaces a scene's conversation may ask (none for the other scenes)."""
    if resource == "database":
        return [ModeParam(param=s.db_name, type=s.db_type, comment=s.comment) for s in runtime.datasources.list()]
    if resource == "knowledge":
        spaces = runtime.knowledge.spaces.page(1, MAX_PAGE_SIZE).items
        return [ModeParam(param=space.name, type="space", space_id=space.id) for space in spaces]
    return []


async def list_mode_params(request: Request) -> Response:
    runtime = _runtime(request)
    chosen = scene(query_param(request, "chat_mode") or "chat_normal")
    params = await asyncio.to_thread(mode_params, runtime, chosen.resource)
    return await envelope([param.model_dump(exclude_none=True) for param in params])


async def app_list(request: Request) -> Response:
    """A page of the registry's apps (the body's `app_name` filter and the like are not applied)."""
    params = page_params(request)
    apps = _runtime(request).apps
    return await envelope(await asyncio.to_thread(apps.page, params.get("page", 1), params.get("page_size", 20)))


UNSUPPORTED: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/agent/hub/update"): "no agent hub: agents and plugins are not installed here",
    ("POST", "/api/v1/agent/query"): "no agent hub: agents and plugins are not installed here",
    ("POST", "/api/v1/agent/my"): "no agent hub: agents and plugins are not installed here",
    ("POST", "/api/v1/agent/install"): "no agent hub: agents and plugins are not installed here",
    ("POST", "/api/v1/agent/uninstall"): "no agent hub: agents and plugins are not installed here",
    ("POST", "/api/v1/personal/agent/upload"): "plugins are not uploaded here",
    ("POST", "/api/v1/skills/upload"): "skills are not uploaded here",
    ("POST", "/api/v1/skills/import_github"): "skills are not imported here",
    ("POST", "/api/v1/worker/model/start"): "the model is chosen by the settings at start-up (DBGPT_LLM_*)",
    ("POST", "/api/v1/worker/model/stop"): "the model is chosen by the settings at start-up (DBGPT_LLM_*)",
    ("GET", "/api/v1/worker/model/params"): "the model is chosen by the settings at start-up (DBGPT_LLM_*)",
    ("POST", "/api/v1/resource/file/upload"): "files are not attached to chats here (add them to a knowledge space)",
}
"""DB-GPT v1 calls that make no sense here: each answers 404 in the envelope, saying why."""


async def not_supported(request: Request) -> Response:
    reason = UNSUPPORTED[(request.method, request.url.path)]
    raise NotFound(f"not supported by dbgpt-tools: {reason}")


CHAT_SCENE = Param("chat_scene", "query", SCENE_SCHEMA, "The scene (default chat_normal).")
APP_CODE = Param("app_code", "query", TypeAdapter(Label).json_schema(), "An app's app_code, or the scene again.")
UI_SUPPORT_ROUTES: list[tuple[Endpoint, Handler]] = [
    (
        Endpoint("GET", "/api/v1/model/types", "The configured model's name", response=Strings, enveloped=True),
        model_types,
    ),
    (
        Endpoint("GET", "/api/v1/model/supports", "The models served", response=SupportedModels, enveloped=True),
        model_supports,
    ),
    (
        Endpoint("GET", "/api/v1/worker/model/list", "The running models", response=WorkerModels, enveloped=True),
        worker_models,
    ),
    (
        Endpoint(
            "GET",
            "/api/v1/app/info",
            "A scene's or an app's chat settings (param_need)",
            params=(CHAT_SCENE, APP_CODE),
            response=AppInfo,
            enveloped=True,
        ),
        app_info,
    ),
    (
        Endpoint(
            "POST",
            "/api/v1/chat/mode/params/list",
            "The datasources or spaces a scene may ask about",
            params=(CHAT_MODE,),
            response=ModeParams,
            enveloped=True,
        ),
        list_mode_params,
    ),
    (
        Endpoint(
            "POST",
            "/api/v1/app/list",
            "A page of apps (app_list, total_count, total_page, current_page)",
            params=(PAGE, PAGE_SIZE),
            response=AppPage,
            enveloped=True,
        ),
        app_list,
    ),
    *[
        (Endpoint(method, path, f"Always an empty list: {what}", response=Empty, enveloped=True), empty_list)
        for method, path, what in (
            ("GET", "/api/v1/skills/list", "no skills here"),
            ("GET", "/api/v1/question/list", "no recommended questions here"),
            ("POST", "/api/v1/app/hot/list", "no app usage is recorded here"),
            ("GET", "/api/v1/agent/files", "no agent makes files here"),
            ("GET", "/api/v2/serve/connectors/", "no connectors here"),
        )
    ],
    *[
        (Endpoint(method, path, f"Not supported by dbgpt-tools (404): {reason}", enveloped=True), not_supported)
        for (method, path), reason in UNSUPPORTED.items()
    ],
]
