"""The OpenAI-compatible model API's requests and answers, as DB-GPT's apiserver and OpenAI's SDK spell them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictBool, StrictFloat, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dbgpt_tools.chat.models import ChatMessage, FinishReason, Label, Usage
from dbgpt_tools.json_types import WHOLE_NUMBER, TokenCap, drop_nulls

MAX_STOP_SEQUENCES = 4
MAX_EMBEDDING_INPUTS = 256
MAX_EMBEDDING_CHARS = 32_768

StopSequence = Annotated[str, Field(min_length=1, max_length=256)]
EmbeddingText = Annotated[str, Field(min_length=1, max_length=MAX_EMBEDDING_CHARS)]


class ModelCard(BaseModel):
    """One model the API serves."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "DB-GPT"


class ModelList(BaseModel):
    """What `GET /api/v1/models` answers: the chat model and the embedding model."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ModelChatRequest(BaseModel):
    """A chat completion request: the messages go to the model as they are (no chat mode, no history).

    Fields OpenAI has and this API ignores (top_p, seed, penalties, user, ...) are accepted and dropped; those
    whose meaning it cannot honour (function calling, n > 1, a JSON response format) are refused."""

    model_config = ConfigDict(extra="ignore")

    model: Label = Field(description="The served chat model (see GET /api/v1/models).")
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation, ending with the user's turn.")
    temperature: StrictFloat | None = Field(default=None, ge=0, le=2, description="Sampling temperature, 0..2.")
    max_tokens: TokenCap | None = Field(
        default=None, description="Cap on generated tokens (DBGPT_MAX_NEW_TOKENS at most)."
    )
    max_completion_tokens: TokenCap | None = Field(default=None, description="OpenAI's newer name for max_tokens.")
    stop: StopSequence | Annotated[list[StopSequence], Field(max_length=MAX_STOP_SEQUENCES)] | None = Field(
        default=None, description="Up to 4 sequences before which the model stops."
    )
    stream: StrictBool = Field(default=False, description="Stream the answer as server-sent events.")
    n: Annotated[int, Strict(), Field(ge=1, le=1), WHOLE_NUMBER] | None = Field(default=None, description="Only 1.")
    tools: list[Any] | None = Field(default=None, description="Refused: no function calling here.")
    functions: list[Any] | None = Field(default=None, description="Refused: no function calling here.")
    response_format: dict[str, Any] | None = Field(default=None, description="Only {'type': 'text'}.")

    _nulls = model_validator(mode="before")(drop_nulls)

    @field_validator("tools", "functions")
    @classmethod
    def _no_function_calling(cls, value: list[Any] | None) -> list[Any] | None:
        if value:
            raise PydanticCustomError("unsupported", "function calling is not supported by this model API")
        return value

    @field_validator("response_format")
    @classmethod
    def _text_only(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value not in (None, {"type": "text"}):
            raise PydanticCustomError("unsupported", "only {'type': 'text'} is supported")
        return value

    @field_validator("messages", mode="before")
    @classmethod
    def _developer_is_system(cls, value: Any) -> Any:
        """OpenAI's newer `developer` role is the system prompt."""
        if not isinstance(value, list):
            return value
        return [{**m, "role": "system"} if isinstance(m, dict) and m.get("role") == "developer" else m for m in value]

    @property
    def token_cap(self) -> int | None:
        """The requested cap on generated tokens, if any."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def stop_sequences(self) -> list[str] | None:
        """The stop sequences as a list (None when none were given)."""
        return [self.stop] if isinstance(self.stop, str) else self.stop or None


class AnswerMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class AnswerChoice(BaseModel):
    index: int = 0
    message: AnswerMessage
    finish_reason: FinishReason


class ModelChatCompletion(BaseModel):
    """OpenAI's `chat.completion` object."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[AnswerChoice]
    usage: Usage


class EmbeddingRequest(BaseModel):
    """Texts to embed with the knowledge embedding model."""

    model_config = ConfigDict(extra="ignore")

    input: EmbeddingText | Annotated[list[EmbeddingText], Field(min_length=1, max_length=MAX_EMBEDDING_INPUTS)] = Field(
        description=f"A text or a list of up to {MAX_EMBEDDING_INPUTS} texts."
    )
    model: Label | None = Field(default=None, description="The served embedding model (the default).")
    encoding_format: Literal["float", "base64"] = Field(
        default="float", description="`float` lists, or `base64` of little-endian float32 (OpenAI's SDK default)."
    )
    dimensions: Annotated[int, Strict(), Field(ge=1, le=1_000_000), WHOLE_NUMBER] | None = Field(
        default=None, description="Must be the model's own size."
    )

    _nulls = model_validator(mode="before")(drop_nulls)

    @field_validator("input", mode="before")
    @classmethod
    def _texts_only(cls, value: Any) -> Any:
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            raise PydanticCustomError("texts_only", "a string or a list of strings (token arrays are not supported)")
        return value

    @property
    def texts(self) -> list[str]:
        """The input as a list."""
        return [self.input] if isinstance(self.input, str) else self.input


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingList(BaseModel):
    """OpenAI's embeddings answer: one vector per input, in order."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage
