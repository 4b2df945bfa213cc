"""The chat's typed models, with DB-GPT's field names: requests, streamed chunks with their artifacts, answers."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    field_validator,
    model_validator,
)

from dbgpt_tools.json_types import TokenCap, drop_nulls
from dbgpt_tools.knowledge.models import RetrievedChunk
from dbgpt_tools.sql.results import QueryResult


class ChatMode(StrEnum):
    """DB-GPT's chat modes."""

    chat_normal = "chat_normal"
    chat_data = "chat_data"
    chat_knowledge = "chat_knowledge"
    chat_app = "chat_app"
    chat_flow = "chat_flow"


Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length"]
ConvUid = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="A conversation id: letters, digits and . _ : - (what an earlier answer returned).",
    ),
]
Label = Annotated[str, Field(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]
"""A one-line name (a mode's target, a user, a model)."""
SPACES = "\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
VISIBLE = f"[^{SPACES}]"
"""One character that is not white space, spelled out so that every regex engine (the JSON schema's, pydantic's,
Python's) agrees on it."""


class TextPart(BaseModel):
    """A text part of an OpenAI message's content list."""

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One message of a conversation (OpenAI's content-part lists are accepted and joined into one text)."""

    role: Role
    content: str

    @field_validator("content", mode="wrap")
    @classmethod
    def _join_text_parts(cls, value: Any, handler: Any) -> str:
        if isinstance(value, list):
            value = "".join(TextPart.model_validate(part).text for part in value)
        result: str = handler(value)
        return result

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        schema = handler.resolve_ref_schema(schema)
        text = schema["properties"]["content"]
        schema["properties"]["content"] = {
            "anyOf": [{"type": "string"}, {"type": "array", "items": TextPart.model_json_schema()}],
            "title": text.get("title", "Content"),
        }
        return schema


class QueryArtifact(BaseModel):
    """The rows a chat_data turn produced, and the DB-GPT chart type that suits them."""

    kind: Literal["query"] = "query"
    result: QueryResult
    chart_type: str = Field(description="DB-GPT's chart name: response_table, response_line_chart, ...")
    describe: str = Field(default="", description="What the rows show, in words.")


class ReferencesArtifact(BaseModel):
    """The chunks a chat_knowledge answer was grounded in, best first (its citations)."""

    kind: Literal["references"] = "references"
    space: str
    chunks: list[RetrievedChunk]


Artifact = Annotated[QueryArtifact | ReferencesArtifact, Field(discriminator="kind")]
"""What a chat turn can produce beside its text: rows (chat_data) or references (chat_knowledge)."""


class StoredMessage(ChatMessage):
    """A message as the conversation keeps it: its text, and the artifacts an assistant turn produced."""

    artifacts: list[Artifact] = Field(default_factory=list)


class ChatOptions(BaseModel):
    """How a turn is answered: the fields every face's chat request shares. `null` means "not given"."""

    chat_mode: ChatMode = Field(default=ChatMode.chat_normal, description="Which chat mode answers.")
    chat_param: Label | None = Field(default=None, description="The mode's target (datasource, space, app, flow).")
    conv_uid: ConvUid | None = Field(default=None, description="Continue this conversation (its id).")
    temperature: StrictFloat | None = Field(default=None, ge=0, le=2, description="Sampling temperature, 0..2.")
    max_new_tokens: TokenCap | None = Field(default=None, description="Cap on generated tokens.")

    _nulls = model_validator(mode="before")(drop_nulls)


def _request_schema(schema: dict[str, Any]) -> None:
    """What the JSON schema cannot learn from the fields: every mode but chat_normal needs a `chat_param` (the
    datasource, the space, the app, the flow)."""
    targeted = [mode.value for mode in ChatMode if mode is not ChatMode.chat_normal]
    schema["allOf"] = [
        {
            "if": {"properties": {"chat_mode": {"enum": targeted}}, "required": ["chat_mode"]},
            "then": {"properties": {"chat_param": {"type": "string", "minLength": 1}}, "required": ["chat_param"]},
        }
    ]


class ChatRequest(ChatOptions):
    """A chat request as DB-GPT's `/api/v2/chat/completions` takes it (OpenAI fields accepted too)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, json_schema_extra=_request_schema)

    messages: Annotated[str, Field(pattern=VISIBLE)] | Annotated[list[ChatMessage | str], Field(min_length=1)] = Field(
        description="The user input: a string, or a list of messages ending with the user's question (a string "
        "item is a user message)."
    )
    model: Label | None = Field(default=None, description="Model name; the configured backend answers.")
    user_name: Label | None = Field(default=None, max_length=128)
    sys_code: Label | None = Field(default=None, max_length=128)
    span_id: Label | None = Field(default=None, max_length=128)
    max_tokens: TokenCap | None = Field(
        default=None,
        description="OpenAI's name for max_new_tokens (which wins if both are given).",
    )
    stream: StrictBool = Field(default=False, description="Stream the answer as server-sent events.")
    incremental: StrictBool = Field(default=True, description="Stream deltas; `false` sends the whole text so far.")
    enable_vis: StrictBool = Field(default=True, description="Include chart-view / references markup.")

    @field_validator("messages", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        """Clear words for the two empty inputs (the schema says the same as a pattern and a minimum)."""
        if isinstance(value, str) and not re.search(VISIBLE, value):
            raise ValueError("messages must not be empty")
        if isinstance(value, list) and not value:
            raise ValueError("messages must hold at least one message")
        return value

    @model_validator(mode="after")
    def _openai_token_cap(self) -> ChatRequest:
        if self.max_new_tokens is None:
            self.max_new_tokens = self.max_tokens
        return self

    def message_list(self) -> list[ChatMessage]:
        """The messages as a list, strings turned into user messages."""
        if isinstance(self.messages, str):
            return [ChatMessage(role="user", content=self.messages)]
        return [m if isinstance(m, ChatMessage) else ChatMessage(role="user", content=m) for m in self.messages]


class Usage(BaseModel):
    """Token counts of one answer (zeros when the backend does not report them)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class ChatChunk(BaseModel):
    """One piece of a streamed answer: a text delta or an artifact; the last piece has the finish reason and usage."""

    delta: str = ""
    artifact: Artifact | None = None
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


class ChatResult(BaseModel):
    """A whole answer: its text (no markup), the artifacts it produced, and how it ended."""

    conv_uid: str = Field(description="The conversation id; send it again to continue the conversation.")
    model: str = Field(description="The model that answered.")
    content: str = Field(description="The answer text.")
    artifacts: list[Artifact] = Field(
        default_factory=list, description="Rows (chat_data) or references (chat_knowledge) the answer produced."
    )
    finish_reason: FinishReason = "stop"
    usage: Usage = Field(default_factory=Usage)
