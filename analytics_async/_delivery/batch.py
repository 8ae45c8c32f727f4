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
        """Move envelopes from the front of `items` while they fit; one loop, no call per event.

        Returns how many were taken, and whether the next one was left because it does not fit (the
        batch is then complete even though it is not full).
        """
        envelopes = self.envelopes
        room = self.max_events - len(envelopes)
        nbytes, budget, taken = self.nbytes, self.byte_budget, 0
        while room and items:
            size = len(items[0].payload) + (1 if envelopes else 0)
            if envelopes and nbytes + size > budget:
                self.nbytes = nbytes
                return taken, True
            envelopes.append(items.popleft())
            nbytes += size
            room -= 1
            taken += 1
        self.nbytes = nbytes
        return taken, False
