"""Pydantic models shared by every face, with DB-GPT's field names."""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)


class ChatMode(str, Enum):
    """DB-GPT's chat modes."""

    chat_normal = "chat_normal"
    chat_data = "chat_data"
    chat_knowledge = "chat_knowledge"
    chat_app = "chat_app"
    chat_flow = "chat_flow"


Role = Literal["system", "user", "assistant"]


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


class ChatRequest(BaseModel):
    """A chat request as DB-GPT's `/api/v2/chat/completions` takes it (OpenAI fields accepted too).

    `null` means "not given" for every optional field, as the official client sends them all.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    messages: str | list[ChatMessage | str] = Field(
        description="The user input: a string, or a list of messages whose last user message is the question."
    )
    model: str | None = Field(default=None, description="Model name; the configured backend answers.")
    chat_mode: ChatMode = Field(default=ChatMode.chat_normal, description="Which chat mode answers.")
    chat_param: str | None = Field(default=None, description="The mode's target (datasource, space, app, flow).")
    conv_uid: str | None = Field(default=None, max_length=128, description="Conversation id; turns share history.")
    user_name: str | None = Field(default=None, max_length=128)
    sys_code: str | None = Field(default=None, max_length=128)
    span_id: str | None = Field(default=None, max_length=128)
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature, 0..2.")
    max_new_tokens: int | None = Field(
        default=None,
        ge=1,
        validation_alias=AliasChoices("max_new_tokens", "max_tokens"),
        description="Cap on generated tokens (OpenAI's `max_tokens` is accepted too).",
    )
    stream: bool = Field(default=False, description="Stream the answer as server-sent events.")
    incremental: bool = Field(default=True, description="Stream deltas; `false` sends the whole text so far.")
    enable_vis: bool = Field(default=True, description="Include chart-view / references markup.")

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

    @field_validator("messages")
    @classmethod
    def _not_empty(cls, value: str | list[ChatMessage | str]) -> str | list[ChatMessage | str]:
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


FinishReason = Literal["stop", "length"]


class ChatChunk(BaseModel):
    """One piece of a streamed answer: a text delta, and on the last piece the finish reason and usage."""

    delta: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


class ChatResult(BaseModel):
    """A whole answer."""

    conv_uid: str = Field(description="The conversation id; send it again to continue the conversation.")
    model: str = Field(description="The model that answered.")
    content: str = Field(description="The answer text.")
    finish_reason: FinishReason = "stop"
    usage: Usage = Field(default_factory=Usage)


