"""A gate in front of a shared resource: a few requests run, a bounded number wait, the rest are refused."""

from __future__ import annotations

import asyncio
from types import TracebackType

from dbgpt_tools.errors import Busy


class ConcurrencyGate:
    """At most `max_active` holders at once and `max_waiting` in line; admission beyond that raises `Busy`."""

    def __init__(self, max_active: int, max_waiting: int) -> None:
        self.max_active = max_active
        self.max_waiting = max_waiting
        self._semaphore = asyncio.Semaphore(max_active)
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Requests admitted and not yet released (running or waiting)."""
        return self._admitted

    def check(self) -> None:
        """Raise `Busy` if a request arriving now would be refused (so faces can refuse before answering)."""
        if self._admitted >= self.max_active + self.max_waiting:
            raise Busy(
                f"the model is busy: {self.max_active} requests running and {self.max_waiting} waiting; "
                "retry shortly"
            )

    def admit(self) -> Admission:
        """Take a place in line (raises `Busy` when the line is full)."""
        self.check()
        self._admitted += 1
        return Admission(self)

    def _release_admission(self) -> None:
        self._admitted -= 1


class Admission:
    """A place in line; `acquire()` waits for a running slot, `release()` gives both back (idempotent)."""

    def __init__(self, gate: ConcurrencyGate) -> None:
        self._gate = gate
        self._holding = False
        self._released = False

    async def acquire(self) -> None:
        """Wait for a running slot (no-op when already holding one)."""
        if self._released:
            raise RuntimeError("admission already released")
        if not self._holding:
            await self._gate._semaphore.acquire()
            self._holding = True

    def release(self) -> None:
        """Leave the line and free the slot, if held."""
        if self._released:
            return
        self._released = True
        if self._holding:
            self._gate._semaphore.release()
        self._gate._release_admission()

    async def __aenter__(self) -> Admission:
        await self.acquire()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
