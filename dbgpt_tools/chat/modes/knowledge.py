"""`chat_knowledge`: a question about a knowledge space -> hybrid retrieval -> an answer grounded in the chunks,
citing them, followed by the chunks as a typed `ReferencesArtifact` (the REST face renders DB-GPT's references
markup). When no chunk is similar enough to the question, the answer says so without asking the model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from dbgpt_tools.chat.models import ChatChunk, ChatMessage, ChatRequest, ReferencesArtifact
from dbgpt_tools.chat.modes.base import TurnContext
from dbgpt_tools.chat.prompts import KNOWLEDGE_EXCERPT, KNOWLEDGE_NOTHING, KNOWLEDGE_SYSTEM, to_langchain
from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.knowledge.models import RetrievedChunk
from dbgpt_tools.knowledge.service import KnowledgeService

TOP_K = 4
RELEVANT = 0.25
"""Cosine similarity below which a chunk is not about the question (all-MiniLM-L6-v2: unrelated text scores
about 0..0.2)."""


def source_label(chunk: RetrievedChunk) -> str:
    """Where an excerpt comes from: document, page, section."""
    parts = [chunk.doc_name]
    if chunk.page is not None:
        parts.append(f"page {chunk.page}")
    if chunk.headers:
        parts.append(" > ".join(chunk.headers))
    return ", ".join(parts)


def numbered_excerpts(chunks: list[RetrievedChunk]) -> str:
    """The chunks as numbered excerpts with their sources, as the model is asked to cite them ([1], [2])."""
    return "\n\n".join(
        KNOWLEDGE_EXCERPT.format(number=number, source=source_label(chunk), content=chunk.content)
        for number, chunk in enumerate(chunks, start=1)
    )


class KnowledgeChat:
    """`chat_knowledge`: answers from a knowledge space's documents, with references."""

    def __init__(self, knowledge: KnowledgeService, top_k: int = TOP_K, relevant: float = RELEVANT) -> None:
        self._knowledge = knowledge
        self._top_k = top_k
        self._relevant = relevant

    async def check(self, request: ChatRequest) -> None:
        if not request.chat_param:
            raise InvalidInput("chat_param must name the knowledge space for chat_knowledge", field="chat_param")
        await asyncio.to_thread(self._knowledge.spaces.resolve, request.chat_param)

    async def answer(self, turn: TurnContext) -> AsyncIterator[ChatChunk]:
        space = turn.request.chat_param or ""
        retrieval = await asyncio.to_thread(
            self._knowledge.retriever.search, space, turn.question, top_k=self._top_k, score_threshold=self._relevant
        )
        if not retrieval.chunks:
            yield ChatChunk(delta=KNOWLEDGE_NOTHING.format(space=retrieval.space), finish_reason="stop")
            return
        system = KNOWLEDGE_SYSTEM.format(space=retrieval.space, excerpts=numbered_excerpts(retrieval.chunks))
        last: ChatChunk | None = None
        messages = [
            ChatMessage(role="system", content=system),
            *turn.history,
            ChatMessage(role="user", content=turn.question),
        ]
        async for chunk in turn.stream_llm(to_langchain(messages)):  # the excerpts go first, whatever the history
            if last is not None:
                yield last
            last = chunk
        references = ReferencesArtifact(space=retrieval.space, chunks=retrieval.chunks)
        if last is not None:
            yield last.model_copy(update={"finish_reason": None, "usage": None})
        yield ChatChunk(
            artifact=references,
            finish_reason=last.finish_reason if last else "stop",
            usage=last.usage if last else None,
        )
