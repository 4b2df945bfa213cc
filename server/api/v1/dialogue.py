"""`/api/v1/chat/dialogue/*`: DB-GPT's conversation list, scenes, new, delete and history, over the
conversation store.

A conversation shows its mode as the scene the web UI opens it in (chat_data as `chat_with_db_execute`, the home
page's own as `chat_react_agent`), its first question as `user_input`, and its creation time as `gmt_created`
(ISO 8601 with the zone). Its history gives an answer with its rows as chart-view markup, or, on a home-page
conversation, as the JSON payload DB-GPT keeps a react-agent turn as (so the reopened page shows its step and
sources). `dialogue/new` only makes an id, as in DB-GPT: the conversation is kept from its first answer on.
"""

from __future__ import annotations

import asyncio
import math
import uuid

from pydantic import BaseModel, ConfigDict, Field, RootModel, TypeAdapter, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.chat.conversations import AGENT_MODE, ConversationStore, ConversationSummary
from dbgpt_tools.chat.markup import render_artifact
from dbgpt_tools.chat.models import ConvUid, Label
from dbgpt_tools.errors import InvalidInput, NotFound, validated
from dbgpt_tools.json_types import drop_nulls
from dbgpt_tools.knowledge.models import Page
from dbgpt_tools.runtime import Runtime
from server.api.v1.react import kept_payload
from server.api.v1.scenes import SCENE_OF_MODE, SCENE_SCHEMA, SCENES, ListedMode, conversation_mode, scene
from server.api.v2.paging import PAGE, PAGE_SIZE, page_params
from server.openapi import Endpoint, Handler, Param
from server.requests import json_body
from server.responses import envelope

BASE = "/api/v1/chat/dialogue"
LIST_SIZE = 50
"""Conversations `dialogue/list` answers when no page size is asked (DB-GPT: 10; the home sidebar shows only its
own among them)."""
MAX_HISTORY_MESSAGES = 1000
"""The last messages `messages/history` shows (500 turns)."""
_CONV_UID: TypeAdapter[str] = TypeAdapter(ConvUid)
_LABEL: TypeAdapter[str] = TypeAdapter(Label)


class DialogueItem(BaseModel):
    """A conversation as DB-GPT lists it (its conversation `ServerResponse`)."""

    conv_uid: str
    user_input: str = Field(description="The first question (the conversation's title).")
    chat_mode: str = Field(description="The scene the web UI opens it in.")
    app_code: str | None
    select_param: str | None = Field(description="The first turn's target: a datasource, a space, an app...")
    model_name: str
    user_name: str | None
    sys_code: str | None
    gmt_created: str
    gmt_modified: str

    @classmethod
    def of(cls, conversation: ConversationSummary, model: str) -> DialogueItem:
        chat_mode = SCENE_OF_MODE[conversation.chat_mode]
        return cls(
            conv_uid=conversation.conv_uid,
            user_input=conversation.question,
            chat_mode=chat_mode,
            app_code=conversation.chat_param if chat_mode == "chat_agent" else chat_mode,
            select_param=conversation.chat_param,
            model_name=model,
            user_name=conversation.user_name,
            sys_code=conversation.sys_code,
            gmt_created=conversation.created_at.isoformat(timespec="seconds"),
            gmt_modified=conversation.updated_at.isoformat(timespec="seconds"),
        )


class DialogueItems(RootModel[list[DialogueItem]]):
    """The latest conversations."""


DialoguePage = Page[DialogueItem]


class DialogueQuery(BaseModel):
    """Which conversations a page holds: those of one scene (all when `chat_mode` is not given)."""

    model_config = ConfigDict(extra="ignore")

    chat_mode: ListedMode | None = Field(default=None, description="A scene, or chat_react_agent (the home page's).")

    _nulls = model_validator(mode="before")(drop_nulls)


class NewDialogue(BaseModel):
    """A new conversation's id and scene (kept once its first answer is)."""

    conv_uid: str
    chat_mode: str
    user_input: str
    app_code: str | None
    user_name: str | None
    sys_code: str | None


class MessageVo(BaseModel):
    """One message of a conversation as DB-GPT's UI shows it: the user's (`human`) or an answer (`view`, with its
    rows as chart-view markup; on a home-page conversation DB-GPT's react-agent payload, a JSON text); a question and
    its answer share their `order`."""

    model_config = ConfigDict(protected_namespaces=())

    role: str
    context: str
    order: int
    model_name: str
    time_stamp: str | None = None


class MessageVos(RootModel[list[MessageVo]]):
    """A conversation's messages, oldest first."""


class SceneVo(BaseModel):
    """A scene the UI may start a conversation in (DB-GPT's `ChatSceneVo`)."""

    chat_scene: str
    scene_name: str
    scene_describe: str
    param_title: str
    show_disable: bool = False


class SceneVos(RootModel[list[SceneVo]]):
    """The scenes served here."""


def _conversations(request: Request) -> ConversationStore:
    runtime: Runtime = request.app.state.runtime
    return runtime.conversations


def _model(request: Request) -> str:
    runtime: Runtime = request.app.state.runtime
    return runtime.llm.model_name


def query_param(request: Request, name: str, kind: TypeAdapter[str] = _LABEL) -> str | None:
    """A query parameter, given at most once and of its kind (a one-line label by default; 400 otherwise)."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise InvalidInput(f"{name} must be given at most once", field=name)
    if not values:
        return None
    try:
        return kind.validate_python(values[0])
    except ValidationError:
        raise InvalidInput(f"{name} is not valid: {values[0][:40]!r}", field=name) from None


def _conv_uid(request: Request) -> str:
    """The `con_uid` query parameter (DB-GPT's spelling): a conversation id (400 otherwise)."""
    conv_uid = query_param(request, "con_uid", _CONV_UID)
    if conv_uid is None:
        raise InvalidInput("con_uid (the conversation id) is required", field="con_uid")
    return conv_uid


async def list_dialogues(request: Request) -> Response:
    params = page_params(request, "user_name", "user_id", "sys_code")  # one user here: the names are not filters
    page, page_size = params.get("page", 1), params.get("page_size", LIST_SIZE)
    found, _ = await asyncio.to_thread(_conversations(request).page, page, page_size)
    model = _model(request)
    return await envelope([DialogueItem.of(conversation, model) for conversation in found])


async def query_page(request: Request) -> Response:
    params = page_params(request)
    query = validated(DialogueQuery, await json_body(request, allow_empty=True, empty={}))  # `null` is refused
    mode = conversation_mode(query.chat_mode) if query.chat_mode else None
    page, page_size = params.get("page", 1), params.get("page_size", 20)
    found, total = await asyncio.to_thread(_conversations(request).page, page, page_size, mode)
    model = _model(request)
    items = [DialogueItem.of(conversation, model) for conversation in found]
    pages = math.ceil(total / page_size)
    return await envelope(
        DialoguePage(items=items, total_count=total, total_pages=pages, page=page, page_size=page_size)
    )


async def new_dialogue(request: Request) -> Response:
    chat_mode = query_param(request, "chat_mode") or "chat_normal"
    code = AGENT_MODE if chat_mode == AGENT_MODE else scene(chat_mode).code  # a knowledge page asks for the former
    app_code = query_param(request, "app_code") or code
    return await envelope(
        NewDialogue(
            conv_uid=str(uuid.uuid4()),
            chat_mode=code,
            user_input="",
            app_code=app_code,
            user_name=query_param(request, "user_name") or query_param(request, "user_id"),
            sys_code=query_param(request, "sys_code"),
        )
    )


async def delete_dialogue(request: Request) -> Response:
    conv_uid = _conv_uid(request)
    if not await asyncio.to_thread(_conversations(request).delete, conv_uid):
        raise NotFound(f"no conversation with con_uid {conv_uid!r}", field="con_uid")
    return await envelope(None)


async def clear_dialogue(request: Request) -> Response:
    conv_uid = _conv_uid(request)
    if not await asyncio.to_thread(_conversations(request).delete, conv_uid, keep_conversation=True):
        raise NotFound(f"no conversation with con_uid {conv_uid!r}", field="con_uid")
    return await envelope(None)


def _history(conversations: ConversationStore, conv_uid: str, model: str) -> list[MessageVo]:
    """A conversation's last messages as the UI shows them: an answer with its rows as chart-view markup, or on a
    home-page conversation as the payload DB-GPT keeps a react-agent turn as."""
    messages = conversations.history(conv_uid, MAX_HISTORY_MESSAGES)
    info = conversations.info(conv_uid) if messages else None
    home_page = info is not None and info.chat_mode == AGENT_MODE
    shown: list[MessageVo] = []
    order = 0
    for message in messages:
        if message.role == "user":
            order += 1
            shown.append(MessageVo(role="human", context=message.content, order=order, model_name=model))
        elif message.role == "assistant":
            if home_page:
                context = kept_payload(message.content, message.artifacts)
            else:
                context = message.content + "".join(render_artifact(a, markup=True) for a in message.artifacts)
            shown.append(MessageVo(role="view", context=context, order=order, model_name=model))
    return shown


async def history_messages(runtime: Runtime, conv_uid: str) -> Response:
    """A conversation's last messages as the UI shows them (empty for a conversation not kept yet)."""
    if not conv_uid:
        return await envelope([])
    return await envelope(await asyncio.to_thread(_history, runtime.conversations, conv_uid, runtime.llm.model_name))


async def get_history(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return await history_messages(runtime, _conv_uid(request))


async def list_scenes(request: Request) -> Response:
    scenes = [
        SceneVo(
            chat_scene=listed.code,
            scene_name=listed.name,
            scene_describe=listed.describe,
            param_title=listed.param_title,
        )
        for listed in SCENES.values()
        if listed.listed
    ]
    return await envelope(scenes)


CON_UID = Param("con_uid", "query", _CONV_UID.json_schema(), "The conversation id.", required=True)
CHAT_MODE = Param("chat_mode", "query", SCENE_SCHEMA, "The scene (default chat_normal).")
MODEL_NAME = Param("model_name", "query", {"type": "string"}, "Ignored: the configured model answers.")
DIALOGUE_ROUTES: list[tuple[Endpoint, Handler]] = [
    (
        Endpoint(
            "GET",
            BASE + "/list",
            f"The latest conversations, newest first (page_size {LIST_SIZE} unless given)",
            params=(PAGE, PAGE_SIZE),
            response=DialogueItems,
            enveloped=True,
        ),
        list_dialogues,
    ),
    (
        Endpoint(
            "POST",
            BASE + "/query_page",
            "A page of conversations, of one scene when the body names it ({items, total_count, ...})",
            params=(PAGE, PAGE_SIZE),
            body=DialogueQuery,
            response=DialoguePage,
            enveloped=True,
        ),
        query_page,
    ),
    (
        Endpoint(
            "POST",
            BASE + "/new",
            "A new conversation id in a scene (kept from its first answer on)",
            params=(CHAT_MODE, MODEL_NAME),
            response=NewDialogue,
            enveloped=True,
        ),
        new_dialogue,
    ),
    (Endpoint("POST", BASE + "/delete", "Delete a conversation", params=(CON_UID,), enveloped=True), delete_dialogue),
    (
        Endpoint("POST", BASE + "/clear", "Delete a conversation's messages", params=(CON_UID,), enveloped=True),
        clear_dialogue,
    ),
    (
        Endpoint(
            "GET",
            BASE + "/messages/history",
            f"A conversation's messages (the last {MAX_HISTORY_MESSAGES}): human and view, by order",
            params=(CON_UID,),
            response=MessageVos,
            enveloped=True,
        ),
        get_history,
    ),
    (
        Endpoint("POST", BASE + "/scenes", "The scenes served here", response=SceneVos, enveloped=True),
        list_scenes,
    ),
]
