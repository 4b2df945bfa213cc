"""`/api/v1/chat/completions` (cumulative `choices[0].message.content` events, as DB-GPT's web UI reads them) and
`/api/v1/chat/react-agent` (`final` + `done` events; `/api/v1/chat/knowledge-agent`, a space page's chat, alike), on
the one chat core.

A request the server cannot read (not JSON, a field of the wrong type, an unknown chat_mode) is a 4xx JSON answer.
A well-formed one always gets its stream, as from DB-GPT's own server: a refusal of the chat (an unknown database or
space, a busy model) or a failure mid-answer comes inside it, as an event whose text is `[ERROR]<reason>` (with an
`error` object) on completions and as a `final` event on react-agent. The web UI shows both, while a JSON error body
would become the answer bubble itself.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictBool,
    StrictFloat,
    field_validator,
    model_validator,
)
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response

from dbgpt_tools.chat.conversations import AGENT_MODE, ConversationMode
from dbgpt_tools.chat.models import VISIBLE, ChatMode, ChatRequest, ConvUid, FinishReason, Label, Usage
from dbgpt_tools.chat.service import ChatTurn
from dbgpt_tools.errors import DbgptError, InternalError, InvalidInput, validated
from dbgpt_tools.json_types import TokenCap, drop_nulls
from dbgpt_tools.runtime import Runtime
from server.api.v1.dialogue import MessageVos, history_messages
from server.api.v1.react import STEP, AgentEvent, AnswerParts, agent_event, final_events, step_title
from server.api.v1.scenes import SCENES, ListedMode, SceneCode, scene
from server.api.v2.chat import DONE, SEND_TIMEOUT_S, ChunkWriter, rendered, sse_events
from server.api.v2.chat_schema import ChatCompletionChunk, CompletionMessage, StreamError
from server.openapi import Endpoint, Handler
from server.requests import parse_body

log = logging.getLogger("dbgpt_tools.server")

NO_PARAM = ("", "null", "undefined")
"""What the UI sends as `select_param` when nothing is chosen."""
UI_PREFIX = re.compile(r"^(?:\s*\[(?:Database|Knowledge): [^\]\n]*\])+\s*")
"""The `[Database: x] [Knowledge: y] ` the home page puts before the question it sends."""
MAX_QUESTION = 100_000


class ConversationVo(BaseModel):
    """A chat turn as DB-GPT's web UI sends it (DB-GPT's `ConversationVo`); `null` means "not given"."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    conv_uid: ConvUid | Literal[""] = Field(default="", description="The conversation (a new one when empty).")
    user_input: str = Field(default="", max_length=MAX_QUESTION, description="The question.")
    chat_mode: SceneCode = Field(default="chat_normal", description="The scene.")
    app_code: Label | None = Field(default=None, description="The app of a chat_agent scene (its app_code).")
    select_param: Label | None = Field(
        default=None, description="The scene's resource: a datasource's db_name, a space, a flow (\"null\": none)."
    )
    model_name: Label | None = Field(default=None, description="Ignored: the configured model answers.")
    temperature: StrictFloat | None = Field(default=None, ge=0, le=2, description="Sampling temperature, 0..2.")
    max_new_tokens: TokenCap | None = Field(default=None, description="Cap on generated tokens.")
    incremental: StrictBool | None = Field(default=False, description="Stream OpenAI deltas, not the text so far.")
    user_name: Label | None = Field(default=None, max_length=128)
    sys_code: Label | None = Field(default=None, max_length=128)

    _nulls = model_validator(mode="before")(drop_nulls)

    @field_validator("select_param")
    @classmethod
    def _nothing_chosen(cls, value: str | None) -> str | None:
        return None if value is None or value.strip() in NO_PARAM else value


class TurnVo(ConversationVo):
    """A turn to answer: its question must say something."""

    user_input: str = Field(pattern=VISIBLE, max_length=MAX_QUESTION, description="The question.")

    @field_validator("user_input", mode="before")
    @classmethod
    def _says_something(cls, value: Any) -> Any:
        """Clear words for an empty question (the schema says the same as a pattern)."""
        if isinstance(value, str) and not re.search(VISIBLE, value):
            raise ValueError("the question must not be empty")
        return value


class AgentExtInfo(BaseModel):
    """What the home page chose beside the question: a datasource, a knowledge space."""

    model_config = ConfigDict(extra="ignore")

    database_name: Label | None = None
    database_type: Label | None = None
    knowledge_space_name: Label | None = None
    knowledge_space_id: int | Label | None = None

    _nulls = model_validator(mode="before")(drop_nulls)


class AgentRequest(TurnVo):
    """A home-page turn: the chosen datasource or space in `ext_info`."""

    chat_mode: ListedMode = Field(  # type: ignore[assignment]  # the home page's own, or any scene
        default=AGENT_MODE, description="Ignored: home-page conversations are kept as chat_react_agent."
    )
    ext_info: AgentExtInfo = Field(default_factory=AgentExtInfo)


def chat_request(vo: ConversationVo, mode: ChatMode, param: str | None, question: str) -> ChatRequest:
    """The core's request for a v1 turn (400 naming the bad field)."""
    fields = {
        "messages": question,
        "chat_mode": mode,
        "chat_param": param,
        "conv_uid": vo.conv_uid or None,
        "temperature": vo.temperature,
        "max_new_tokens": vo.max_new_tokens,
        "user_name": vo.user_name,
        "sys_code": vo.sys_code,
        "stream": True,
    }
    return validated(ChatRequest, {key: value for key, value in fields.items() if value is not None})


def completion_target(vo: ConversationVo) -> tuple[ChatMode, str | None]:
    """The chat mode of a classic-page turn and its target: the scene's resource in `select_param`, an app's
    `app_code`."""
    chosen = scene(vo.chat_mode)
    if chosen.mode is ChatMode.chat_normal:
        return chosen.mode, None
    if chosen.mode is ChatMode.chat_app and vo.app_code and vo.app_code not in SCENES:
        return chosen.mode, vo.app_code
    return chosen.mode, vo.select_param


def agent_target(request: AgentRequest) -> tuple[ChatMode, str | None]:
    """The chat mode of a home-page turn: chat_data on the chosen datasource, else chat_knowledge on the chosen
    space, else chat_normal."""
    if request.ext_info.database_name:
        return ChatMode.chat_data, request.ext_info.database_name
    if request.ext_info.knowledge_space_name:
        return ChatMode.chat_knowledge, request.ext_info.knowledge_space_name
    return ChatMode.chat_normal, None


def _needs_target(mode: ChatMode, param: str | None) -> None:
    """A clear refusal, in v1's words, of a turn whose mode needs a target it was not given."""
    if param is None and mode is not ChatMode.chat_normal:
        what = {ChatMode.chat_data: "a datasource's db_name", ChatMode.chat_knowledge: "a knowledge space"}
        needed = what.get(mode, "an app_code" if mode is ChatMode.chat_app else "a flow")
        raise InvalidInput(f"{mode.value} needs select_param: {needed}", field="select_param")


async def start_turn(
    runtime: Runtime, request: ChatRequest, conversation_mode: ConversationMode | None = None
) -> ChatTurn:
    """The turn, once the chat has accepted the request (its refusals are raised here)."""
    _needs_target(request.chat_mode, request.chat_param)
    return await runtime.chat.start(request, conversation_mode)


def event_stream(events: AsyncIterator[bytes]) -> Response:
    """Server-sent events as the v2 chat sends them (a client that stops reading is dropped)."""
    return EventSourceResponse(
        events,
        sep="\n",
        ping=15,
        send_timeout=SEND_TIMEOUT_S,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _failure(exc: Exception, conv_uid: str) -> DbgptError:
    """What may be told of a failure (a bug is logged, and told in general words)."""
    if isinstance(exc, DbgptError):
        return exc
    log.error("v1 chat %s failed", conv_uid, exc_info=exc)
    return InternalError("the answer failed; see the server log")


# --- /api/v1/chat/completions ----------------------------------------------------------------------------------


class V1CompletionChoice(BaseModel):
    index: int
    message: CompletionMessage
    finish_reason: FinishReason | None


class V1Completion(BaseModel):
    """One event of `/api/v1/chat/completions` (DB-GPT's `_v1_create_completion_response`): the whole answer so
    far; the last one has the finish reason and usage. A failure is an event whose text is `[ERROR]<reason>` (what
    the web UI shows), with an `error` object. Documentation only: `ContentWriter` writes them."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[V1CompletionChoice]
    usage: Usage | None
    error: StreamError | None = None


class V1StreamEvent(RootModel[V1Completion | ChatCompletionChunk]):
    """An event of `/api/v1/chat/completions`: the text so far, or with `incremental: true` the v2 stream's
    `chat.completion.chunk` deltas (then `[DONE]`)."""


class ContentWriter:
    """Renders one stream's events: DB-GPT's `chat.completion` object with the whole answer so far."""

    def __init__(self, conv_uid: str, model: str, created: int) -> None:
        self._head = {"id": conv_uid, "object": "chat.completion", "created": created, "model": model}

    def content(
        self, text: str, finish: FinishReason | None = None, usage: Usage | None = None, error: DbgptError | None = None
    ) -> bytes:
        """An event carrying `text`, the whole answer so far (the last one its finish reason and usage)."""
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        event = {**self._head, "choices": [choice], "usage": usage.model_dump() if usage else None}
        if error is not None:
            event["error"] = {"message": error.message, "code": error.code, "status": error.status}
        return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()

    def error(self, exc: DbgptError) -> bytes:
        """The event that ends a failed answer: `[ERROR]` and the reason, as the UI shows them."""
        return self.content(f"[ERROR]{exc.message}", "stop", error=exc)


async def cumulative_events(turn: ChatTurn, writer: ContentWriter) -> AsyncIterator[bytes]:
    """The turn as events each carrying the whole text so far (chart-view markup included); a failure
    mid-answer becomes an `[ERROR]` event."""
    so_far = ""
    try:
        async for chunk in rendered(turn, markup=True):
            so_far += chunk.delta
            if chunk.finish_reason is not None:
                yield writer.content(so_far, chunk.finish_reason, chunk.usage or Usage())
            elif chunk.delta:
                yield writer.content(so_far)
    except Exception as exc:
        yield writer.error(_failure(exc, turn.conv_uid))


async def refused(exc: DbgptError, writer: ContentWriter | ChunkWriter) -> AsyncIterator[bytes]:
    """The stream of a turn the chat refused: its one error event (and `[DONE]` after a delta stream's)."""
    yield writer.error(exc)
    if isinstance(writer, ChunkWriter):
        yield DONE


async def chat_completions(request: Request) -> Response:
    """Answer a classic-page turn as DB-GPT 0.8.2 streams it (`incremental: true`: OpenAI deltas instead)."""
    runtime: Runtime = request.app.state.runtime
    vo = await parse_body(request, TurnVo)
    mode, param = completion_target(vo)
    core_request = chat_request(vo, mode, param, vo.user_input)
    model, created = runtime.llm.model_name, int(time.time())
    writer = (ChunkWriter if vo.incremental else ContentWriter)(vo.conv_uid, model, created)
    try:
        turn = await start_turn(runtime, core_request)
    except DbgptError as exc:
        return event_stream(refused(exc, writer))
    if vo.incremental:
        return event_stream(sse_events(turn, ChunkWriter(turn.conv_uid, model, created), incremental=True))
    return event_stream(cumulative_events(turn, ContentWriter(turn.conv_uid, model, created)))


async def chat_prepare(request: Request) -> Response:
    """DB-GPT prepares a scene's chat (an Excel file's learning) and returns the history: here there is nothing to
    prepare, so the conversation's history."""
    runtime: Runtime = request.app.state.runtime
    vo = await parse_body(request, ConversationVo)
    return await history_messages(runtime, vo.conv_uid)


# --- /api/v1/chat/react-agent ------------------------------------------------------------------------------------


async def agent_events(turn: ChatTurn, title: str) -> AsyncIterator[bytes]:
    """The turn as home-page events: its text as it is written in one step, then the whole answer as `final`
    (rows as chart-view markup, a space's chunks as citations), then `done`; a failure ends it as a `final` too."""
    mode = turn.request.chat_mode.value
    yield agent_event(type="step.start", id=STEP, step=1, title=title, detail="", phase="", action=mode)
    answer = AnswerParts()
    try:
        async for chunk in turn:
            answer.add(chunk.delta, chunk.artifact)
            if chunk.delta:
                yield agent_event(type="step.chunk", id=STEP, output_type="text", content=chunk.delta)
    except Exception as exc:
        failure = _failure(exc, turn.conv_uid)
        yield agent_event(type="step.done", id=STEP, status="failed")
        said = answer.markdown
        for event in final_events(f"{said}\n\n**Error:** {failure.message}" if said else failure.message, []):
            yield event
        return
    yield agent_event(type="step.done", id=STEP, status="done")
    for event in final_events(answer.markdown, answer.citations):
        yield event


async def refused_agent_turn(exc: DbgptError) -> AsyncIterator[bytes]:
    """A home-page turn the chat refused: the reason as its `final` answer."""
    for event in final_events(exc.message, []):
        yield event


async def chat_react_agent(request: Request) -> Response:
    """Answer a home-page turn; the conversation is kept as `chat_react_agent`, the mode the home page lists."""
    runtime: Runtime = request.app.state.runtime
    body = await parse_body(request, AgentRequest)
    mode, param = agent_target(body)
    question = UI_PREFIX.sub("", body.user_input, count=1).strip() or body.user_input
    core_request = chat_request(body, mode, param, question)
    try:
        turn = await start_turn(runtime, core_request, AGENT_MODE)
    except DbgptError as exc:
        return event_stream(refused_agent_turn(exc))
    return event_stream(agent_events(turn, step_title(mode, param)))


CHAT_ROUTES: list[tuple[Endpoint, Handler]] = [
    (
        Endpoint(
            "POST",
            "/api/v1/chat/completions",
            "Chat in a scene (DB-GPT's ConversationVo); events carry the whole answer so far",
            body=TurnVo,
            stream=V1StreamEvent,
        ),
        chat_completions,
    ),
    (
        Endpoint(
            "POST",
            "/api/v1/chat/react-agent",
            "Chat from the home page: ext_info picks a datasource or a space; step, final and done events",
            body=AgentRequest,
            stream=AgentEvent,
        ),
        chat_react_agent,
    ),
    (
        Endpoint(
            "POST",
            "/api/v1/chat/knowledge-agent",
            "Chat from a knowledge space's page (ext_info names the space); the home page's events",
            body=AgentRequest,
            stream=AgentEvent,
        ),
        chat_react_agent,
    ),
    (
        Endpoint(
            "POST",
            "/api/v1/chat/prepare",
            "Prepare a scene's chat: the conversation's history (nothing needs preparing here)",
            body=ConversationVo,
            response=MessageVos,
            enveloped=True,
        ),
        chat_prepare,
    ),
]
