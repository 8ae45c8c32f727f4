"""Synchronous table tests of the pure parts: batch building, the queue's bookkeeping, the ledger."""

from __future__ import annotations

from collections import deque

import pytest

from analytics_async._delivery.batch import MAX_BODY_BYTES, Batch, event_bytes_budget
from analytics_async._delivery.event_queue import EventQueue
from analytics_async._lifecycle.ledger import Ledger
from analytics_async._message.context import Context, Envelope


def envelope(size: int = 10, name: str = "E") -> Envelope:
    """An envelope whose JSON is `size` bytes."""
    return Envelope(Context({"type": "track", "event": name}), b"x" * size, None, "track")


@pytest.mark.parametrize(
    ("sizes", "max_events", "budget", "taken", "blocked"),
    [
        ([], 5, 100, 0, False),  # nothing queued
        ([10, 10, 10], 5, 100, 3, False),  # all fit
        ([10] * 7, 5, 1000, 5, False),  # the count fills first: full, not blocked
        ([40, 40, 40], 10, 100, 2, True),  # 40 + 1 + 40 = 81; a third needs 122: blocked
        ([150], 10, 100, 1, False),  # a first event always fits, even above the budget
        ([50, 49], 10, 100, 2, False),  # 50 + 1 + 49 = 100: exactly the budget
        ([50, 50], 10, 100, 1, True),  # 101 bytes with the comma: blocked
    ],
)
def test_batch_takes_while_events_fit(
    sizes: list[int], max_events: int, budget: int, taken: int, blocked: bool
) -> None:
    """A batch takes from the front while count and bytes (commas included) allow; order is kept."""
    items = deque(envelope(size, f"E{i}") for i, size in enumerate(sizes))
    first = list(items)
    batch = Batch(max_events, budget, started_at=0.0)
    assert batch.take_from(items) == (taken, blocked)
    assert batch.envelopes == first[:taken]
    assert list(items) == first[taken:]
    assert batch.nbytes == sum(sizes[:taken]) + max(taken - 1, 0)
    assert batch.full == (taken == max_events)


@pytest.mark.parametrize("split", [1, 2, 3])
def test_a_batch_filled_in_steps_takes_what_it_takes_at_once(split: int) -> None:
    """The batcher takes into a batch again as events arrive: bytes and count carry over exactly."""
    sizes = [30, 20, 25, 10, 40]  # 30 + 1 + 20 + 1 + 25 = 77; + 1 + 10 = 88; + 1 + 40 = 129 > 100
    items = deque(envelope(size, f"E{i}") for i, size in enumerate(sizes))
    first = list(items)
    batch = Batch(10, 100, started_at=0.0)
    queued: deque[Envelope] = deque(items.popleft() for _ in range(split))
    assert batch.take_from(queued) == (split, False)
    queued.extend(items)
    assert batch.take_from(queued) == (4 - split, True)
    assert batch.envelopes == first[:4]
    assert list(queued) == first[4:]
    assert batch.nbytes == 88
    assert batch.take_from(queued) == (0, True)  # still does not fit
    assert batch.nbytes == 88


def test_batch_byte_budget_leaves_room_for_the_envelope() -> None:
    """The event budget keeps the whole body within 500 KB whatever the write key's length."""
    assert event_bytes_budget(10) == 480 * 1024
    long_key = 30_000
    assert event_bytes_budget(long_key) < MAX_BODY_BYTES - long_key


def test_queue_refuses_when_full_or_closed_and_takes_in_order() -> None:
    """put_nowait returns the new length or 0; take_into moves in FIFO order; close drops the rest."""
    queue = EventQueue(maxsize=2)
    a, b, c = envelope(name="a"), envelope(name="b"), envelope(name="c")
    assert [queue.put_nowait(a), queue.put_nowait(b), queue.put_nowait(c)] == [1, 2, 0]
    batch = Batch(1, 1000, started_at=0.0)
    assert queue.take_into(batch) is False
    assert batch.envelopes == [a]
    assert len(queue) == 1
    queue.restore([c])  # carried over from an ended loop: ahead of the rest, even above maxsize
    batch = Batch(5, 1000, started_at=0.0)
    queue.take_into(batch)
    assert batch.envelopes == [c, b]
    queue.put_nowait(a)
    queue.close()
    assert (len(queue), queue.put_nowait(b), queue.closed) == (0, 0, True)


def test_ledger_counts_and_finishes_idempotently() -> None:
    """Open events are numbered in order; finishing twice, or an event never opened, changes nothing."""
    drained: list[None] = []
    ledger = Ledger(lambda: drained.append(None))
    events = [envelope() for _ in range(3)]
    for event in events:
        ledger.open(event)
    assert [e.seq for e in events] == [1, 2, 3]
    assert ledger.unfinished() == events
    ledger.finish(events[1:2])
    ledger.finish(events[1:2])
    ledger.finish([envelope()])
    assert (len(ledger), ledger.unfinished(), drained) == (2, [events[0], events[2]], [])
    ledger.finish([events[0], events[2]])
    assert (len(ledger), drained) == (0, [None])


@pytest.mark.parametrize(
    ("finish_order", "reached_after"),
    [
        ([0, 1, 2], 3),
        ([2, 1, 0], 3),
        ([2, 0, 1], 3),
    ],
)
def test_ledger_barrier_waits_for_the_events_open_before_it(
    finish_order: list[int], reached_after: int
) -> None:
    """A barrier is reached once every event open when it was set has finished, in any order."""
    ledger = Ledger(lambda: None)
    events = [envelope() for _ in range(3)]
    for event in events:
        ledger.open(event)
    reached: list[int] = []
    assert ledger.barrier(lambda: reached.append(1)) is not None
    later = envelope()
    ledger.open(later)  # opened after the barrier: not waited for
    for n, index in enumerate(finish_order, start=1):
        assert ledger.flush_waiting == (not reached)
        ledger.finish([events[index]])
        assert reached == ([1] if n >= reached_after else [])
    assert not ledger.flush_waiting
    assert len(ledger) == 1


def test_ledger_barrier_with_nothing_open_and_withdrawn() -> None:
    """No barrier is set when nothing is open; a withdrawn barrier is never reached."""
    ledger = Ledger(lambda: None)
    assert ledger.barrier(lambda: None) is None
    event = envelope()
    ledger.open(event)
    reached: list[int] = []
    withdraw = ledger.barrier(lambda: reached.append(1))
    assert withdraw is not None
    withdraw()
    assert not ledger.flush_waiting
    ledger.finish([event])
    assert reached == []


def test_ledger_forgets_barriers_of_an_ended_loop() -> None:
    """After a loop change the old barriers are gone; open events stay open."""
    ledger = Ledger(lambda: None)
    event = envelope()
    ledger.open(event)
    reached: list[int] = []
    ledger.barrier(lambda: reached.append(1))
    ledger.forget_barriers()
    ledger.finish([event])
    assert reached == []
    assert len(ledger) == 0
