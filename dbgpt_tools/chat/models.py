"""The chat's typed models, with DB-GPT's field names: requests, streamed chunks with their artifacts, answers."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

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


class ChatMessage(BaseModel):
    """One message of a conversation."""

    role: Role
    content: str

    @field_validator("content", mode="before")
    @classmethod
    def _join_text_parts(cls, value: Any) -> Any:
        """Accept OpenAI's content-part lists (`[{"type": "text", "text": ...}]`) by joining their text."""
        if isinstance(value, list):
            return "".join(part.get("text", "") for part in value if isinstance(part, dict))
        return value


class QueryArtifact(BaseModel):
    """The rows a chat_data turn produced, and the DB-GPT chart type that suits them."""

    kind: Literal["query"] = "query"
    result: QueryResult
    chart_type: str = Field(description="DB-GPT's chart name: response_table, response_line_chart, ...")
    describe: str = Field(default="", description="What the rows show, in words.")


Artifact = QueryArtifact
"""What a chat turn can produce beside its text (chat_knowledge's references will join)."""


class StoredMessage(ChatMessage):
    """A message as the conversation keeps it: its text, and the artifacts an assistant turn produced."""

    artifacts: list[Artifact] = Field(default_factory=list)


class ChatOptions(BaseModel):
    """How a turn is answered: the fields every face's chat request shares. `null` means "not given"."""

    chat_mode: ChatMode = Field(default=ChatMode.chat_normal, description="Which chat mode answers.")
    chat_param: Label | None = Field(default=None, description="The mode's target (datasource, space, app, flow).")
    conv_uid: ConvUid | None = Field(default=None, description="Continue this conversation (its id).")
    temperature: StrictFloat | None = Field(default=None, ge=0, le=2, description="Sampling temperature, 0..2.")
    max_new_tokens: StrictInt | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        validation_alias=AliasChoices("max_new_tokens", "max_tokens"),
        description="Cap on generated tokens (OpenAI's `max_tokens` is accepted too).",
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        """Treat `null` as absent, and let `max_new_tokens` win over `max_tokens`."""
        if not isinstance(data, dict):
            return data
        cleaned = {key: value for key, value in data.items() if value is not None}
        if "max_new_tokens" in cleaned:
            cleaned.pop("max_tokens", None)
        return cleaned


class ChatRequest(ChatOptions):
    """A chat request as DB-GPT's `/api/v2/chat/completions` takes it (OpenAI fields accepted too)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    messages: Annotated[str, Field(pattern=r"\S")] | Annotated[list[ChatMessage | str], Field(min_length=1)] = Field(
        description="The user input: a string, or a list of messages whose last user message is the question."
    )
    model: Label | None = Field(default=None, description="Model name; the configured backend answers.")
    user_name: Label | None = Field(default=None, max_length=128)
    sys_code: Label | None = Field(default=None, max_length=128)
    span_id: Label | None = Field(default=None, max_length=128)
    stream: StrictBool = Field(default=False, description="Stream the answer as server-sent events.")
    incremental: StrictBool = Field(default=True, description="Stream deltas; `false` sends the whole text so far.")
    enable_vis: StrictBool = Field(default=True, description="Include chart-view / references markup.")

    @field_validator("messages", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        """Clear words for the two empty inputs (the schema says the same as a pattern and a minimum)."""
        if isinstance(value, str) and not value.strip():
            raise ValueError("messages must not be empty")
        if isinstance(value, list) and not value:
            raise ValueError("messages must hold at least one message")
        return value

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
    artifacts: list[Artifact] = Field(default_factory=list, description="Rows (chat_data) the answer produced.")
    finish_reason: FinishReason = "stop"
    usage: Usage = Field(default_factory=Usage)
