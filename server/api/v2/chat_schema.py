"""What `/api/v2/chat/completions` answers, as documented in the OpenAPI document: OpenAI's `chat.completion`
object, and the `chat.completion.chunk` each server-sent event carries (documentation only: `ChunkWriter` and
`completion_body` write them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from dbgpt_tools.chat.models import FinishReason, Usage


class CompletionMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class CompletionChoice(BaseModel):
    index: int
    message: CompletionMessage
    finish_reason: FinishReason


class ChatCompletion(BaseModel):
    """OpenAI's `chat.completion` object; `id` and `conv_uid` are the conversation id."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    conv_uid: str
    choices: list[CompletionChoice]
    usage: Usage


class StreamError(BaseModel):
    """A failure after the stream started."""

    message: str
    code: str
    status: int


class ChunkChoice(BaseModel):
    index: int
    delta: CompletionMessage
    finish_reason: FinishReason | None


class ChatCompletionChunk(BaseModel):
    """One streamed `chat.completion.chunk`: a text delta; the last one has the finish reason and `usage` (or an
    `error`)."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    error: StreamError | None = None
