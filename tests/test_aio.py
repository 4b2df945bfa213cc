"""The background loop in-process faces (LangChain, the notebook) drive the core on: results and errors come
back to the caller, a caller that stops early closes the stream, and a cancelled awaiter cancels the work."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dbgpt_tools.aio import background_loop, iterate_sync, run_async, run_sync, shared_runtime, use_runtime
from dbgpt_tools.errors import NotFound
from dbgpt_tools.runtime import Runtime


def test_one_loop_in_one_thread_runs_every_call() -> None:
    async def where() -> tuple[asyncio.AbstractEventLoop, str]:
        return asyncio.get_running_loop(), threading.current_thread().name

    loop, thread = run_sync(where())
    assert loop is background_loop() and thread == "dbgpt-tools-loop"
    assert run_sync(where())[0] is loop


def test_errors_come_back_to_the_caller() -> None:
    async def refuse() -> None:
        raise NotFound("no such thing")

    with pytest.raises(NotFound, match="no such thing"):
        run_sync(refuse())


def test_stopping_early_closes_the_stream_on_its_loop() -> None:
    closed = threading.Event()

    async def numbers() -> AsyncIterator[int]:
        try:
            for n in range(100):
                yield n
        finally:
            closed.set()

    seen = []
    stream = iterate_sync(numbers())
    for n in stream:
        seen.append(n)
        if n == 2:
            break
    stream.close()
    assert seen == [0, 1, 2] and closed.is_set()
    assert list(iterate_sync(numbers())) == list(range(100))


@pytest.mark.anyio
async def test_cancelling_the_awaiter_cancels_the_work_on_the_background_loop() -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def long_work() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.ensure_future(run_async(long_work()))
    assert await asyncio.to_thread(started.wait, 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(cancelled.wait, 60)


def test_the_shared_runtime_is_the_one_given_or_one_from_the_settings(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_runtime(runtime)
    try:
        assert shared_runtime() is runtime
    finally:
        use_runtime(None)
    monkeypatch.setenv("DBGPT_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("DBGPT_SAMPLE_DB", "false")
    built = shared_runtime()
    try:
        assert built is not runtime and built.settings.data_dir == tmp_path / "from-env"
        assert shared_runtime() is built  # built once, then shared
    finally:
        use_runtime(None)
        built.close()
