"""Run the async core for in-process callers (LangChain tools, notebook cells) on one shared loop.

Clients inside the core (HTTP pools of the LLM client, the model gate's semaphore) belong to the loop that
first used them, so every in-process caller drives the core through the same background loop, and by
default shares one runtime (`shared_runtime`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Generator
from typing import Any, TypeVar

from dbgpt_tools.runtime import Runtime

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()
_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """The process-wide event loop running in a daemon thread (started on first use)."""
    global _loop
    with _lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="dbgpt-tools-loop", daemon=True).start()
        return _loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the background loop and wait for its result."""
    return asyncio.run_coroutine_threadsafe(coro, background_loop()).result()


async def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Await a coroutine run on the background loop, from any other loop (cancellation is passed on)."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, background_loop()))


def iterate_sync(stream: AsyncIterator[T]) -> Generator[T, None, None]:
    """Iterate an async iterator from synchronous code; closing the iterator closes the stream.

    When the caller stops while a step is still running (a KeyboardInterrupt in a notebook cell), that step
    is cancelled first, so the stream closes cleanly instead of failing with "already running".
    """
    loop = background_loop()
    running: asyncio.Task[Any] | None = None

    async def step() -> T:
        nonlocal running
        running = asyncio.current_task()
        return await anext(stream)

    async def close() -> None:
        if running is not None and not running.done():
            running.cancel()
            await asyncio.wait([running])
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()

    try:
        while True:
            try:
                yield asyncio.run_coroutine_threadsafe(step(), loop).result()
            except StopAsyncIteration:
                return
    finally:
        asyncio.run_coroutine_threadsafe(close(), loop).result()


def shared_runtime() -> Runtime:
    """The runtime in-process faces use by default: the one given to `use_runtime`, else built from `Settings()`."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime()
        return _runtime


def use_runtime(runtime: Runtime | None) -> None:
    """Make `runtime` the shared one (None: build from `Settings()` again on next use).

    The caller keeps ownership: a runtime passed here is not closed when it is replaced.
    """
    global _runtime
    with _runtime_lock:
        _runtime = runtime
