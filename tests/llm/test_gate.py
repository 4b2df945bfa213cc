"""The gate in front of the model: slots while generating, a bounded line, refusals beyond it."""

from __future__ import annotations

import asyncio

import pytest

from dbgpt_tools.errors import Busy
from dbgpt_tools.llm.gate import ConcurrencyGate

pytestmark = pytest.mark.anyio


async def test_a_slot_given_back_lets_the_next_turn_generate_while_the_first_stays_in_line() -> None:
    gate = ConcurrencyGate(max_active=1, max_waiting=1)
    first, second = gate.admit(), gate.admit()
    await first.acquire()
    waiting = asyncio.create_task(second.acquire())
    await asyncio.sleep(0)
    assert not waiting.done()  # one slot: the second waits
    first.release_slot()
    await waiting
    assert gate.admitted == 2  # both still in line
    with pytest.raises(Busy):  # both are still in line: the line is full
        gate.admit()
    first.release_slot()  # idempotent
    again = asyncio.create_task(first.acquire())  # the first wants a slot again (a repair round)...
    await asyncio.sleep(0)
    assert not again.done()  # ...and waits while the second generates
    second.release()
    await again
    first.release()
    first.release()  # idempotent
    assert gate.admitted == 0
    with pytest.raises(RuntimeError):
        await first.acquire()  # a turn that left the line cannot generate


async def test_at_most_max_active_generate_at_once() -> None:
    gate = ConcurrencyGate(max_active=2, max_waiting=10)
    running = peak = 0

    async def generate() -> None:
        nonlocal running, peak
        admission = gate.admit()
        try:
            await admission.acquire()
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0)  # let the others try to get in
            running -= 1
        finally:
            admission.release()

    await asyncio.gather(*(generate() for _ in range(8)))
    assert peak == 2 and gate.admitted == 0


def test_the_line_is_bounded_and_the_refusal_says_why() -> None:
    gate = ConcurrencyGate(max_active=1, max_waiting=2)
    admitted = [gate.admit() for _ in range(3)]
    with pytest.raises(Busy) as refused:
        gate.check()
    assert refused.value.status == 429 and "1 requests running and 2 waiting" in refused.value.message
    admitted[0].release()
    gate.admit()
