"""Chat operations: answer a turn in any mode, read a conversation."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from dbgpt_tools.chat.conversations import ConversationStore
from dbgpt_tools.chat.models import ChatOptions, ChatRequest, ChatResult, ConvUid, StoredMessage
from dbgpt_tools.chat.service import ChatService
from dbgpt_tools.errors import NotFound
from dbgpt_tools.operations.base import AnyOperation, Operation, Progress

MAX_CONVERSATION_MESSAGES = 10_000


class ChatArgs(ChatOptions):
    """Arguments of the `chat` operation: the question, and how to answer it."""

    question: str = Field(min_length=1, max_length=100_000, description="The user's question or message.")


async def chat(service: ChatService, args: ChatArgs, progress: Progress | None = None) -> ChatResult:
    """Answer one chat turn; progress reports each piece of text as it is generated."""
    request = ChatRequest(messages=args.question, **args.model_dump(exclude={"question"}))
    pieces = 0

    async def on_delta(delta: str) -> None:
        nonlocal pieces
        pieces += 1
        if progress is not None:
            await progress(pieces, None, delta)

    return await service.complete(request, on_delta)


class ConversationArgs(BaseModel):
    """Arguments of the `get_conversation` operation."""

    conv_uid: ConvUid = Field(description="The conversation id.")


class Conversation(BaseModel):
    """A conversation's stored messages, oldest first (an answer's rows in its `artifacts`)."""

    conv_uid: str
    messages: list[StoredMessage]


async def get_conversation(
    store: ConversationStore, args: ConversationArgs, progress: Progress | None = None
) -> Conversation:
    """The stored messages of a conversation."""
    messages = await asyncio.to_thread(store.history, args.conv_uid, MAX_CONVERSATION_MESSAGES)
    if not messages:
        raise NotFound(f"no conversation with conv_uid {args.conv_uid!r}")
    return Conversation(conv_uid=args.conv_uid, messages=messages)


CHAT_OPERATIONS: tuple[AnyOperation, ...] = (
    Operation(
        name="chat",
        title="Chat",
        description=(
            "Ask DB-GPT a question in a chat mode (chat_normal: plain LLM answer). Returns the answer and a "
            "conv_uid; pass the conv_uid again to continue the same conversation."
        ),
        args_model=ChatArgs,
        result_model=ChatResult,
        uses=lambda runtime: runtime.chat,
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
        uses=lambda runtime: runtime.conversations,
        run=get_conversation,
    ),
)
