"""The watchdog: interrupts a connection once its deadline passes, never after `stop`, earliest deadline first."""

from __future__ import annotations

import threading
import time

from dbgpt_tools.sql.watchdog import Watchdog


class Connection:
    """Records when it was interrupted."""

    def __init__(self) -> None:
        self.interrupted = threading.Event()
        self.at: float | None = None

    def interrupt(self) -> None:
        self.at = time.monotonic()
        self.interrupted.set()


def test_a_connection_past_its_deadline_is_interrupted_once() -> None:
    watchdog, conn = Watchdog(), Connection()
    started = time.monotonic()
    watchdog.start(conn, 0.05)
    assert conn.interrupted.wait(30)
    assert conn.at is not None and conn.at - started >= 0.05


def test_a_stopped_statement_is_never_interrupted() -> None:
    watchdog, stopped, witness = Watchdog(), Connection(), Connection()
    watchdog.start(stopped, 0.05)
    watchdog.stop(stopped)
    watchdog.start(witness, 0.1)  # due after the stopped one: once it fires, the stopped one's time has passed
    assert witness.interrupted.wait(30)
    assert not stopped.interrupted.is_set()


def test_a_new_statement_replaces_the_deadline() -> None:
    watchdog, conn, witness = Watchdog(), Connection(), Connection()
    watchdog.start(conn, 0.05)
    watchdog.start(conn, 3600)  # the next statement on the same connection
    watchdog.start(witness, 0.1)
    assert witness.interrupted.wait(30)
    assert not conn.interrupted.is_set()


def test_an_earlier_deadline_wakes_the_watchdog() -> None:
    watchdog, late, early = Watchdog(), Connection(), Connection()
    watchdog.start(late, 3600)  # the thread now sleeps for an hour...
    watchdog.start(early, 0.05)  # ...unless told of this one
    assert early.interrupted.wait(30)
    assert not late.interrupted.is_set()


def test_finished_statements_do_not_pile_up() -> None:
    watchdog = Watchdog()
    for _ in range(10_000):
        conn = Connection()
        watchdog.start(conn, 3600)
        watchdog.stop(conn)
    assert len(watchdog._heap) <= 1024 + 1 and watchdog._due == {}
