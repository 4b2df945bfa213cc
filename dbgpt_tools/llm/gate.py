"""A gate in front of the model: a few requests generate, a bounded number wait, the rest are refused.

A turn is admitted once (its place counts against the line until it ends) and holds a generating slot only
while the model writes for it: chat_data gives its slot back while its SQL runs and waits again for a repair.
"""

from __future__ import annotations

import asyncio

from dbgpt_tools.errors import Busy


class ConcurrencyGate:
    """At most `max_active` slots in use and `max_waiting` more turns admitted; beyond that `Busy`."""

    def __init__(self, max_active: int, max_waiting: int) -> None:
        self.max_active = max_active
        self.max_waiting = max_waiting
        self._semaphore = asyncio.Semaphore(max_active)
        self._admitted = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._busy = asyncio.Event()

    @property
    def admitted(self) -> int:
        """Turns admitted and not yet ended (generating, waiting for a slot, or doing other work)."""
        return self._admitted

    def check(self) -> None:
        """Raise `Busy` if a request arriving now would be refused (so faces can refuse before answering)."""
        if self._admitted >= self.max_active + self.max_waiting:
            raise Busy(
                f"the model is busy: {self.max_active} requests running and {self.max_waiting} waiting; retry shortly"
            )

    def admit(self) -> Admission:
        """Take a place in line (raises `Busy` when the line is full)."""
        self.check()
        self._admitted += 1
        self._idle.clear()
        self._busy.set()
        return Admission(self)

    def _leave(self) -> None:
        self._admitted -= 1
        if self._admitted == 0:
            self._busy.clear()
            self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until no turn is admitted (background work then has the model to itself)."""
        await self._idle.wait()

    async def wait_busy(self) -> None:
        """Wait until a turn is admitted (background work then gives the model back)."""
        await self._busy.wait()


class Admission:
    """A turn's place in line: `acquire()` waits for a generating slot, `release_slot()` gives the slot back,
    `release()` leaves the line (and frees the slot, if held); both are idempotent."""

    def __init__(self, gate: ConcurrencyGate) -> None:
        self._gate = gate
        self._holding = False
        self._released = False

    async def acquire(self) -> None:
        """Wait for a generating slot (no-op when already holding one)."""
        if self._released:
            raise RuntimeError("admission already released")
        if not self._holding:
            await self._gate._semaphore.acquire()
            self._holding = True

    def release_slot(self) -> None:
        """Give the generating slot back, staying in line (the turn goes on without the model)."""
        if self._holding:
            self._holding = False
            self._gate._semaphore.release()

    def release(self) -> None:
        """Leave the line and free the slot, if held."""
        if self._released:
            return
        self._released = True
        self.release_slot()
        self._gate._leave()
