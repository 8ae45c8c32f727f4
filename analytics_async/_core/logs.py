"""Telling the operator: one WARNING per failure, rate-limited, with counts and the reason.

Failed and dropped events, and the first retries of a batch that cannot be sent, are logged at WARNING
on the `analytics_async` logger, at most once per `interval` seconds per kind; what is held back in
between is counted and told with the next line. Messages carry error texts, which never contain the
write key or a token (the sender masks them). Silence: set that logger's level to ERROR.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

__all__ = ["INTERVAL", "RateLimitedLog"]

logger = logging.getLogger("analytics_async")

INTERVAL: Final = 10.0
"""Seconds between two WARNING lines of one kind."""


class RateLimitedLog:
    """At most one WARNING per `interval` (real, monotonic seconds); held-back events are counted."""

    def __init__(self, interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._last = -interval
        self._held_events = 0
        self._held_lines = 0

    def events(self, count: int, reason: BaseException, *, dropped: bool) -> None:
        """`count` events failed (delivery attempted) or were dropped (never sent) because of `reason`."""
        noun = "event" if count == 1 else "events"
        verb = ("was dropped" if count == 1 else "were dropped") if dropped else "failed"
        self._warn(count, f"{count:,} {noun} {verb}: {type(reason).__name__}: {reason}")

    def flush(self) -> None:
        """Tell now what is held back (at close: no later line of this kind would tell it)."""
        if not self._held_lines:
            return
        if self._held_events:
            held = f"{self._held_events:,} more events failed or were dropped (counted by reason in stats())"
        else:
            held = f"{self._held_lines:,} more such messages"
        logger.warning("analytics_async: at close: %s since the last message", held)
        self._held_events = self._held_lines = 0

    def line(self, text: str) -> None:
        """A message that concerns no event count (a retry)."""
        self._warn(0, text)

    def _warn(self, count: int, text: str) -> None:
        now = self._clock()
        if now - self._last < self._interval:
            self._held_events += count
            self._held_lines += 1
            return
        if self._held_lines:
            held = f"{self._held_events:,} more events" if self._held_events else f"{self._held_lines} more"
            text += f" ({held} since the last such message)"
        logger.warning("analytics_async: %s", text)
        self._last = now
        self._held_events = self._held_lines = 0
