"""Pure batching decisions: how many events and bytes a batch may hold (DECISIONS.md, sizes)."""

from __future__ import annotations

from collections import deque
from typing import Final

from .._message.context import Envelope

__all__ = ["MAX_BODY_BYTES", "Batch", "event_bytes_budget"]

MAX_BATCH_EVENT_BYTES: Final = 480 * 1024
"""We stop adding events at 480 KiB of event JSON, like analytics-node's intent."""
MAX_BODY_BYTES: Final = 500_000
"""The Tracking API's limit for one request body (500 KB); never exceeded."""
# {"batch":[ ... ],"writeKey":<key>,"sentAt":"2026-01-01T00:00:00.000Z"} without the key itself.
_ENVELOPE_BYTES: Final = len(b'{"batch":[],"writeKey":,"sentAt":"2026-01-01T00:00:00.000Z"}')


def event_bytes_budget(write_key_json_bytes: int) -> int:
    """Bytes of joined event JSON (commas included) a batch may hold so its body stays in limits."""
    return min(MAX_BATCH_EVENT_BYTES, MAX_BODY_BYTES - _ENVELOPE_BYTES - write_key_json_bytes)


class Batch:
    """Events accumulating for one request, in arrival order, within a count and a byte budget."""

    __slots__ = ("byte_budget", "envelopes", "max_events", "nbytes", "started_at")

    def __init__(self, max_events: int, byte_budget: int, started_at: float) -> None:
        self.envelopes: list[Envelope] = []
        self.nbytes = 0
        self.max_events = max_events
        self.byte_budget = byte_budget
        self.started_at = started_at

    def __len__(self) -> int:
        return len(self.envelopes)

    @property
    def full(self) -> bool:
        """No further event may join."""
        return len(self.envelopes) >= self.max_events

    def take_from(self, items: deque[Envelope]) -> tuple[int, bool]:
        """Move envelopes from the front of `items` while they fit; one loop, no Python call per event.

        Returns how many were taken, and whether the next one was left because it does not fit (the
        batch is then complete even though it is not full). A first event always fits.
        """
        envelopes = self.envelopes
        count = min(self.max_events - len(envelopes), len(items))
        # The joined JSON is the payloads and a comma between each two: one byte more per event,
        # counted against a budget one byte larger (no test for "is it the first" per event).
        total = self.nbytes + 1 if envelopes else 0
        limit = self.byte_budget + 1
        for taken in range(count):  # method calls as written: the interpreter specializes them
            envelope = items.popleft()
            total += len(envelope.payload) + 1
            if total > limit and envelopes:
                items.appendleft(envelope)  # it does not fit: put back where it was
                self.nbytes = total - len(envelope.payload) - 2
                return taken, True
            envelopes.append(envelope)
        if envelopes:
            self.nbytes = total - 1
        return count, False
