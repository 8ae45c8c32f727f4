"""The ledger: every accepted event that is not finished yet, and the flushes waiting for them.

An event is *open* from the moment a call accepts it until it is *finished*: its outcome is settled
and reported (callback run, `<type>` or `error` event emitted, after plugins done). Wherever the event
is meanwhile (inside the plugin stage, waiting for room, queued, in a batch, in flight, in its
callback), the ledger knows it, so a closing flush that runs out of time can settle every one of them
from here, without asking each stage. Pure bookkeeping: no I/O, no event loop, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .._message.context import Envelope

__all__ = ["Ledger"]


class _Barrier:
    __slots__ = ("limit", "on_reached", "remaining")

    def __init__(self, limit: int, remaining: int, on_reached: Callable[[], None]) -> None:
        self.limit = limit
        self.remaining = remaining
        self.on_reached = on_reached


class Ledger:
    """Open events in acceptance order, and barriers released when the events before them finish."""

    def __init__(self, on_drained: Callable[[], None]) -> None:
        self._open: dict[int, Envelope] = {}
        self._seq = 0
        self._barriers: list[_Barrier] = []
        self._on_drained = on_drained

    def __len__(self) -> int:
        """Events accepted and not finished."""
        return len(self._open)

    def open(self, envelope: Envelope) -> None:
        """Record `envelope` as accepted, giving it the next sequence number."""
        self._seq += 1
        envelope.seq = self._seq
        self._open[self._seq] = envelope

    def finish(self, envelopes: Iterable[Envelope]) -> None:
        """Record `envelopes` as finished; release the barriers they complete.

        Envelopes that are not open (already finished, or never opened) are ignored, so finishing is
        idempotent. Calls `on_drained` when this empties the ledger.
        """
        pop = self._open.pop
        before = len(self._open)
        if self._barriers:
            if finished := [e for e in envelopes if pop(e.seq, None) is not None]:
                self._count_down(finished)
        else:  # the common case: one dict removal per event
            for envelope in envelopes:
                pop(envelope.seq, None)
        if before and not self._open:
            self._on_drained()

    def _count_down(self, finished: list[Envelope]) -> None:
        """Count `finished` against each barrier; call and drop the barriers that are reached."""
        for barrier in self._barriers:
            barrier.remaining -= sum(1 for e in finished if e.seq <= barrier.limit)
        reached = [b for b in self._barriers if b.remaining <= 0]
        if reached:
            self._barriers = [b for b in self._barriers if b.remaining > 0]
            for barrier in reached:
                barrier.on_reached()

    def barrier(self, on_reached: Callable[[], None]) -> Callable[[], None] | None:
        """Call `on_reached` once every event open now has finished.

        Returns None (and never calls it) when nothing is open; otherwise a function that withdraws
        the barrier.
        """
        if not self._open:
            return None
        barrier = _Barrier(self._seq, len(self._open), on_reached)
        self._barriers.append(barrier)

        def withdraw() -> None:
            if barrier in self._barriers:
                self._barriers.remove(barrier)

        return withdraw

    @property
    def flush_waiting(self) -> bool:
        """Whether a flush waits, so partial batches should go without waiting out the interval."""
        return bool(self._barriers)

    def unfinished(self) -> list[Envelope]:
        """The open envelopes, oldest first."""
        return list(self._open.values())

    def clear(self) -> None:
        """Forget every open event and barrier without finishing them (a forked child starts empty)."""
        self._open = {}
        self._barriers = []

    def forget_barriers(self) -> None:
        """Drop every barrier (their waiters belonged to an event loop that has ended)."""
        self._barriers = []
