"""Prompts read into the local model's prompt cache while it serves nobody.

On two CPU cores the embedded model reads a prompt at about 40 tokens a second, so a 1.5k-token schema prompt
costs ~35 s the first time and almost nothing after: llama.cpp reuses a cached common prefix (across its slots too,
through its RAM prompt cache). A read-ahead waits until no turn is admitted at the model's gate, then has the model
read the prompt in steps: the system prompt's first ~128 tokens, then a longer prefix, and so on (one generated
token each; llama.cpp reuses the prefix it read), so a turn that comes, or a shutdown, waits for one step at most;
a turn that comes cancels the step, and the reading goes on at the next idle moment. What has been read is known
per process, like the model server's cache itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import threading

from langchain_core.messages import BaseMessage, SystemMessage

from dbgpt_tools.llm.client import LLM

log = logging.getLogger(__name__)

_CLOSE_WAIT_S = 10.0  # how long closing waits for a dropped step's request to end
STEP_CHARS = 450
"""Characters of system prompt one step adds (~128 tokens: about 3 s of a two-core CPU)."""


def read_steps(messages: list[BaseMessage]) -> list[list[BaseMessage]]:
    """The requests that read `messages` step by step: the system prompt cut after whole lines, longer each time,
    then the messages themselves."""
    first = messages[0] if messages else None
    if not isinstance(first, SystemMessage) or not isinstance(first.content, str):
        return [messages]
    steps: list[list[BaseMessage]] = []
    text = first.content
    end = text.find("\n", STEP_CHARS)
    while 0 <= end < len(text) - STEP_CHARS:
        steps.append([SystemMessage(content=text[:end]), *messages[1:]])
        end = text.find("\n", end + STEP_CHARS)
    return [*steps, messages]


def prompt_key(messages: list[BaseMessage]) -> str:
    """A digest of a prompt's messages (role and text)."""
    digest = hashlib.sha256()
    for message in messages:
        digest.update(f"{message.type}\0{message.content}\0".encode())
    return digest.hexdigest()


class ReadAhead:
    """Prompts read, or being read, into the model's prompt cache."""

    def __init__(self, llm: LLM) -> None:
        self._llm = llm
        self._read: set[str] = set()
        self._reading: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        self._lock = threading.Lock()
        self._reader: asyncio.AbstractEventLoop | None = None
        self._steps: list[tuple[concurrent.futures.Future[None], threading.Event]] = []

    def is_read(self, messages: list[BaseMessage]) -> bool:
        """Whether the model has read these messages (their common prefix with a new question costs nothing)."""
        return prompt_key(messages) in self._read

    def schedule(self, messages: list[BaseMessage]) -> asyncio.Task[None] | None:
        """Read `messages` when the model is idle (on the running loop); the task already reading them, if any.
        None when they are read."""
        key = prompt_key(messages)
        if key in self._read or self._closed:
            return None
        task = self._reading.get(key)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._read_when_idle(key, messages))
            self._reading[key] = task
            task.add_done_callback(lambda _: self._reading.pop(key, None))
        return task

    async def _read_when_idle(self, key: str, messages: list[BaseMessage]) -> None:
        gate = self._llm.gate
        steps = read_steps(messages)
        while steps:
            await gate.wait_idle()
            if self._closed:
                return
            reading = asyncio.ensure_future(self._read_once(steps[0]))
            busy = asyncio.ensure_future(gate.wait_busy())
            try:
                await asyncio.wait({reading, busy}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                busy.cancel()
                if not reading.done():
                    reading.cancel()  # a turn came: give the model back, go on from what was read later
                    with contextlib.suppress(asyncio.CancelledError):
                        await reading
            if reading.cancelled():
                continue
            if reading.exception() is not None:
                log.warning("reading a prompt ahead failed: %s", reading.exception())
                return
            steps.pop(0)
        self._read.add(key)

    async def settled(self) -> None:
        """Wait until every prompt being read has been read (or its reading failed)."""
        while self._reading:
            await asyncio.gather(*list(self._reading.values()), return_exceptions=True)

    def close(self) -> None:
        """Stop reading (from any thread, the turns' loop included) and wait until no step is left in flight: the
        model server can then be released (xllamacpp's release waits for the requests it is answering, holding
        the GIL, so a request whose client could not run would never end)."""
        self._closed = True
        for task in list(self._reading.values()):
            loop = task.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)
        with self._lock:
            steps = list(self._steps)
        for future, _ in steps:
            future.cancel()
        for _, ended in steps:
            ended.wait(_CLOSE_WAIT_S)

    def _reader_loop(self) -> asyncio.AbstractEventLoop:
        """The loop, in a thread of its own, that the steps' requests run on (so they can be stopped from any
        thread, even while the turns' loop is busy closing)."""
        with self._lock:
            if self._reader is None:
                self._reader = asyncio.new_event_loop()
                threading.Thread(target=self._reader.run_forever, name="read-ahead", daemon=True).start()
            return self._reader

    async def _read_once(self, messages: list[BaseMessage]) -> None:
        ended = threading.Event()
        future = asyncio.run_coroutine_threadsafe(self._request(messages, ended), self._reader_loop())
        entry = (future, ended)
        with self._lock:
            self._steps.append(entry)
        try:
            await asyncio.wrap_future(future)
        finally:
            future.cancel()  # a turn came (or a shutdown): the request is dropped on the reader's loop
            with self._lock:
                self._steps.remove(entry)

    async def _request(self, messages: list[BaseMessage], ended: threading.Event) -> None:
        try:
            async for _ in self._llm.astream(messages, temperature=0, max_tokens=1):
                pass
        finally:
            ended.set()
