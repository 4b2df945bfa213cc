"""Chat operations: answer a turn in any mode, read a conversation."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from dbgpt_tools.chat.models import ChatMessage, ChatMode, ChatRequest, ChatResult
from dbgpt_tools.errors import NotFound
from dbgpt_tools.operations.base import Operation, Progress
from dbgpt_tools.runtime import Runtime


class ChatArgs(BaseModel):
    """Arguments of the `chat` operation."""

    question: str = Field(min_length=1, description="The user's question or message.")
    chat_mode: ChatMode = Field(default=ChatMode.chat_normal, description="Which chat mode answers.")
    chat_param: str | None = Field(default=None, description="The mode's target (datasource, space, app, flow).")
    conv_uid: str | None = Field(
        default=None, max_length=128, description="Continue this conversation (id returned by an earlier call)."
    )
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature, 0..2.")
    max_new_tokens: int | None = Field(default=None, ge=1, description="Cap on generated tokens.")


async def chat(runtime: Runtime, args: ChatArgs, progress: Progress | None = None) -> ChatResult:
    """Answer one chat turn; progress reports each piece of text as it is generated."""
    request = ChatRequest(messages=args.question, **args.model_dump(exclude={"question"}))
    pieces = 0

    async def on_delta(delta: str) -> None:
        nonlocal pieces
        pieces += 1
        if progress is not None:
            await progress(pieces, None, delta)

    return await runtime.chat.complete(request, on_delta)


class ConversationArgs(BaseModel):
    """Arguments of the `get_conversation` operation."""

    conv_uid: str = Field(min_length=1, max_length=128, description="The conversation id.")


class Conversation(BaseModel):
    """A conversation's stored messages, oldest first."""

    conv_uid: str
    messages: list[ChatMessage]


async def get_conversation(runtime: Runtime, args: ConversationArgs, progress: Progress | None = None) -> Conversation:
    """The stored messages of a conversation."""
    messages = await asyncio.to_thread(runtime.conversations.history, args.conv_uid, 10_000)
    if not messages:
        raise NotFound(f"no conversation with conv_uid {args.conv_uid!r}")
    return Conversation(conv_uid=args.conv_uid, messages=messages)


CHAT_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="chat",
        title="Chat",
        description=(
            "Ask DB-GPT a question in a chat mode (chat_normal: plain LLM answer). Returns the answer and a "
            "conv_uid; pass the conv_uid again to continue the same conversation."
        ),
        args_model=ChatArgs,
        result_model=ChatResult,
        run=chat,
        read_only=False,
        idempotent=False,
    ),
    Operation(
        name="get_conversation",
        title="Get conversation",
        description="Return the stored messages of a conversation, oldest first.",
        args_model=ConversationArgs,
        result_model=Conversation,
        run=get_conversation,
    ),
)
