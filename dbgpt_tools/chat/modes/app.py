"""`chat_app`: a question to a saved app (`chat_param` = its app_code) is answered by the mode the app's resource
calls for — chat_data on its datasource, chat_knowledge on its space, chat_normal without one — with the app's
prompt template as the system instructions (chat_data keeps its own SQL instructions)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from dbgpt_tools.apps.registry import AppRegistry, AppTarget, target_of
from dbgpt_tools.chat.models import ChatChunk, ChatMessage, ChatMode, ChatRequest
from dbgpt_tools.chat.modes.base import ModeHandler, TurnContext
from dbgpt_tools.errors import InvalidInput


class AppChat:
    """`chat_app`: delegates to the mode of the app's resource."""

    def __init__(self, apps: AppRegistry, modes: Mapping[ChatMode, ModeHandler]) -> None:
        self._apps = apps
        self._modes = modes

    async def _target(self, request: ChatRequest) -> AppTarget:
        if not request.chat_param:
            raise InvalidInput("chat_param must name the app (its app_code) for chat_app", field="chat_param")
        return target_of(await asyncio.to_thread(self._apps.row, request.chat_param))

    async def check(self, request: ChatRequest) -> None:
        target = await self._target(request)
        await self._modes[target.mode].check(_as(request, target))

    async def answer(self, turn: TurnContext) -> AsyncIterator[ChatChunk]:
        target = await self._target(turn.request)
        history = turn.history
        if target.prompt_template and target.mode is not ChatMode.chat_data:
            history = [ChatMessage(role="system", content=target.prompt_template), *history]
        delegated = TurnContext(_as(turn.request, target), turn.question, history, turn.llm, turn.admission)
        async for chunk in self._modes[target.mode].answer(delegated):
            yield chunk


def _as(request: ChatRequest, target: AppTarget) -> ChatRequest:
    return request.model_copy(update={"chat_mode": target.mode, "chat_param": target.param})
