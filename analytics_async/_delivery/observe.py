"""The observation seam: what a metrics exporter (`analytics_async.otel`) learns about each batch.

Counters and gauges are read from `Analytics.stats()` when an exporter asks; only what a snapshot
cannot tell (how long a batch's events waited, how large it was) is pushed, once per batch request,
and only to observers that registered. Without one, the library reads no clock per event.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ..errors import AnalyticsError

__all__ = ["BatchObserver", "BatchSettled"]


@attrs.frozen
class BatchSettled:
    """One batch request settled: its events were delivered (`error` None) or failed."""

    size: int
    """Events in the batch."""
    age: float | None
    """Seconds from accepting the batch's oldest event until the batch settled; None when none of its
    events was accepted while an observer was registered (their acceptance time was not read)."""
    error: AnalyticsError | None


BatchObserver = Callable[[BatchSettled], None]
