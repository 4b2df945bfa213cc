"""`chat_flow`: a question to a flow (`chat_param` = its uid) is answered by running the flow's graph on it; the
final LLM node's answer streams as the model writes, and a failing node ends the answer with an error naming it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from dbgpt_tools.chat.models import ChatChunk, ChatRequest
from dbgpt_tools.chat.modes.base import TurnContext
from dbgpt_tools.errors import InvalidInput
from dbgpt_tools.flows.graph import Graph
from dbgpt_tools.flows.registry import FlowRegistry
from dbgpt_tools.flows.runner import FlowServices, run_flow


class FlowChat:
    """`chat_flow`: runs the flow named by `chat_param`."""

    def __init__(self, flows: FlowRegistry, services: FlowServices) -> None:
        self._flows = flows
        self._services = services

    async def _graph(self, request: ChatRequest) -> Graph:
        if not request.chat_param:
            raise InvalidInput("chat_param must name the flow (its uid) for chat_flow", field="chat_param")
        return await asyncio.to_thread(self._flows.graph, request.chat_param)

    async def check(self, request: ChatRequest) -> None:
        await self._graph(request)

    async def answer(self, turn: TurnContext) -> AsyncIterator[ChatChunk]:
        async for chunk in run_flow(await self._graph(turn.request), turn, self._services):
            yield chunk
