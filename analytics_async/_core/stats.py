"""Counters since construction, and their frozen snapshot (`analytics.stats()`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType

import attrs

__all__ = ["Counters", "Stats"]


@attrs.frozen
class Stats:
    """A snapshot of the counters; every accepted event ends delivered, failed or dropped.

    `accepted == delivered + sum(failed.values()) + sum(dropped.values()) + unsettled`.
    """

    accepted: int
    delivered: int
    failed: Mapping[str, int]
    """Events whose delivery was attempted and failed, by reason (the exception's class name)."""
    dropped: Mapping[str, int]
    """Events never attempted (queue full, closed), by reason."""
    retries: int
    batches_sent: int
    batches_in_flight: int
    queue_depth: int
    violations: int = 0
    """Events a tracking plan's check objected to (`analytics_async.plans`), whatever it did with them."""

    @property
    def unsettled(self) -> int:
        """Events accepted but not yet delivered, failed or dropped."""
        return self.accepted - self.delivered - sum(self.failed.values()) - sum(self.dropped.values())


@attrs.define
class Counters:
    """The live, mutable counters behind `Stats`."""

    accepted: int = 0
    delivered: int = 0
    failed: Counter[str] = attrs.field(factory=Counter)
    dropped: Counter[str] = attrs.field(factory=Counter)
    retries: int = 0
    batches_sent: int = 0
    violations: int = 0

    def reset(self) -> None:
        """Back to zero (a forked child starts counting anew)."""
        self.accepted = self.delivered = self.retries = self.batches_sent = self.violations = 0
        self.failed = Counter()
        self.dropped = Counter()

    def snapshot(self, *, in_flight: int, queue_depth: int) -> Stats:
        """Freeze the counters together with the current pipeline gauges."""
        return Stats(
            accepted=self.accepted,
            delivered=self.delivered,
            failed=MappingProxyType(dict(self.failed)),
            dropped=MappingProxyType(dict(self.dropped)),
            retries=self.retries,
            batches_sent=self.batches_sent,
            batches_in_flight=in_flight,
            queue_depth=queue_depth,
            violations=self.violations,
        )
