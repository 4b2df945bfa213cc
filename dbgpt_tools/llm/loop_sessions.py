"""aiohttp client sessions, one per event loop, closed with their loop.

An aiohttp session (and its pooled connections) belongs to the loop that made it. Each loop gets its own
session, held by a suspended async generator: a loop shutting down (`asyncio.run`, uvicorn and anyio all shut
down a loop's async generators before closing it) closes the generator, and with it the session, so no
connection outlives its loop and no "unclosed session" warning follows a finished `asyncio.run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

import aiohttp

_Keeper = AsyncGenerator[aiohttp.ClientSession, None]


class LoopSessions:
    """The running loop's session from `factory`, made on first use in that loop."""

    def __init__(self, factory: Callable[[], aiohttp.ClientSession]) -> None:
        self._factory = factory
        self._held: dict[asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, _Keeper]] = {}

    async def get(self) -> aiohttp.ClientSession:
        """This loop's session."""
        loop = asyncio.get_running_loop()
        held = self._held.get(loop)
        if held is None or held[0].closed:
            keeper = self._keep(loop, self._factory())
            held = self._held[loop] = (await anext(keeper), keeper)
        return held[0]

    async def _keep(self, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> _Keeper:
        try:
            yield session
        finally:
            if self._held.get(loop, (None,))[0] is session:
                del self._held[loop]
            await session.close()

    async def aclose(self) -> None:
        """Close the running loop's session (the next `get` makes a new one)."""
        held = self._held.get(asyncio.get_running_loop())
        if held is not None:
            await held[1].aclose()

    def close(self, timeout: float = 5.0) -> None:
        """Close, from synchronous code, the sessions of loops running in other threads (the background loop);
        a session of this thread's loop closes when that loop shuts down."""
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, (_, keeper) in list(self._held.items()):
            if loop is not current and loop.is_running():
                asyncio.run_coroutine_threadsafe(keeper.aclose(), loop).result(timeout)
