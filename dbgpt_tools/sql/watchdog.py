"""One thread that interrupts SQLite and DuckDB statements past their deadline.

An engine's own interrupt stops a statement between steps, however few steps it takes (a progress handler counts
steps, so a statement of a few slow steps would outlive its deadline); one thread serves every connection, so a
statement costs a heap push rather than a timer thread.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from typing import Any

_COMPACT_AT = 1024  # stale heap entries (statements that finished in time) tolerated before the heap is rebuilt


class Watchdog:
    """Calls a connection's `interrupt()` once its statement's deadline passes, unless `stop` came first."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._due: dict[int, tuple[float, Callable[[], None]]] = {}
        self._heap: list[tuple[float, int]] = []
        self._thread: threading.Thread | None = None

    def start(self, raw: Any, timeout: float) -> None:
        """Interrupt `raw` in `timeout` seconds (replacing any deadline it had)."""
        due = time.monotonic() + timeout
        with self._wake:
            self._due[id(raw)] = (due, raw.interrupt)  # the bound method keeps `raw`, and so its id, alive
            earliest = not self._heap or due < self._heap[0][0]
            heapq.heappush(self._heap, (due, id(raw)))
            if len(self._heap) > 2 * len(self._due) + _COMPACT_AT:
                self._heap = [(when, key) for key, (when, _) in self._due.items()]
                heapq.heapify(self._heap)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="sql-watchdog", daemon=True)
                self._thread.start()
            elif earliest:
                self._wake.notify()

    def stop(self, raw: Any) -> None:
        """`raw`'s statement is over: it is not interrupted."""
        with self._wake:
            self._due.pop(id(raw), None)

    def _watch(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    due, key = heapq.heappop(self._heap)
                    entry = self._due.get(key)
                    if entry is not None and entry[0] == due:
                        del self._due[key]
                        entry[1]()  # under the lock: a `stop` that returned cannot be followed by an interrupt
                self._wake.wait(self._heap[0][0] - now if self._heap else None)


WATCHDOG = Watchdog()
