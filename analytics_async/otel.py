"""OpenTelemetry metrics for `Analytics` instances (the `otel` extra: `pip install 'analytics-async[otel]'`).

```python
from analytics_async import Analytics
from analytics_async.otel import instrument

analytics = Analytics(write_key="...")
instrument(analytics)  # the global MeterProvider, or instrument(analytics, meter_provider=...)
```

Metrics, under the instrumentation scope `analytics_async` (names and units in the style of
OpenTelemetry's semantic conventions; the SDK's own self-metrics are the model):

| name | instrument | unit | attributes |
|---|---|---|---|
| `segment.client.event.accepted` | counter | `{event}` | |
| `segment.client.event.delivered` | counter | `{event}` | |
| `segment.client.event.failed` | counter | `{event}` | `error.type` (the reason's class name) |
| `segment.client.event.dropped` | counter | `{event}` | `error.type` |
| `segment.client.request.retries` | counter | `{retry}` | |
| `segment.client.batch.sent` | counter | `{batch}` | |
| `segment.client.queue.size` | up-down counter | `{event}` | |
| `segment.client.queue.capacity` | up-down counter | `{event}` | |
| `segment.client.batch.inflight` | up-down counter | `{batch}` | |
| `segment.client.delivery.duration` | histogram | `s` | `error.type` when the batch failed |
| `segment.client.batch.size` | histogram | `{event}` | `error.type` when the batch failed |

Counters and gauges are observed: the exporter's reader calls `Analytics.stats()` when it collects
(from its own thread), so the event path pays nothing for them. The two histograms record once per
batch request: `delivery.duration` is the seconds from accepting the batch's oldest event until the
batch was delivered or failed (so its high percentiles bound how late events reach Segment).

Nothing of OpenTelemetry is imported by `import analytics_async`; only this module needs the extra.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import ClassVar, Final

from ._core.stats import Stats
from ._delivery.observe import BatchSettled
from ._lifecycle.client import Analytics
from ._version import __version__
from .errors import ConfigError

try:
    from opentelemetry.metrics import (
        CallbackOptions,
        Meter,
        MeterProvider,
        Observation,
        get_meter_provider,
    )
except ImportError as exc:  # pragma: no cover - tested in a subprocess
    raise ImportError(
        "analytics_async.otel needs OpenTelemetry: pip install 'analytics-async[otel]'"
    ) from exc

__all__ = ["Instrumentation", "instrument"]

SCOPE: Final = "analytics_async"
AttributeValue = str | bool | int | float
Attributes = Mapping[str, AttributeValue]


class Instrumentation:
    """The metrics of one instrumented `Analytics`; `close()` stops reporting them."""

    def __init__(self, analytics: Analytics, attributes: Attributes, instruments: _Instruments) -> None:
        self._analytics: weakref.ref[Analytics] = weakref.ref(analytics)
        self.attributes: Final = dict(attributes)
        self.capacity: Final = analytics._runtime.settings.max_queue_size  # noqa: SLF001
        self._instruments = instruments
        self._closed = False
        instruments.add(analytics, self)
        self._unobserve = analytics._runtime.observe_batches(self._observe)  # noqa: SLF001

    def close(self) -> None:
        """Stop reporting this instance (idempotent).

        Its values leave the next collection, its events stop reading the clock, and it may be
        instrumented again.
        """
        if self._closed:
            return
        self._closed = True
        self._unobserve()
        if (analytics := self._analytics()) is not None:
            self._instruments.remove(analytics)

    def stats(self) -> Stats | None:
        """The instance's counters now, or None once closed or garbage-collected."""
        analytics = self._analytics()
        return None if self._closed or analytics is None else analytics.stats()

    def _observe(self, batch: BatchSettled) -> None:
        """Record one settled batch in the two histograms."""
        attributes = self.attributes
        if batch.error is not None:
            attributes = {**attributes, "error.type": type(batch.error).__name__}
        if batch.age is not None:
            self._instruments.duration.record(batch.age, attributes)
        self._instruments.size.record(batch.size, attributes)


def instrument(
    analytics: Analytics,
    *,
    meter_provider: MeterProvider | None = None,
    attributes: Attributes | None = None,
) -> Instrumentation:
    """Report `analytics`'s counters, gauges and batch histograms as OpenTelemetry metrics.

    Args:
        analytics: the instance to observe (a `sync.Client`'s is `client.analytics`).
        meter_provider: where the metrics go; the global one (`opentelemetry.metrics`) by default.
        attributes: added to every value of this instance, to tell instances apart (for example
            `{"segment.source": "billing"}`); instances with the same attributes are added up.

    Returns:
        The `Instrumentation`; its `close()` stops the reporting. It holds the instance weakly.

    Raises:
        ConfigError: `analytics` is instrumented already with this meter provider.
    """
    provider = meter_provider if meter_provider is not None else get_meter_provider()
    return Instrumentation(analytics, attributes or {}, _Instruments.of(provider))


Values = Iterable[tuple[int, Mapping[str, str]]]
Reading = Callable[[Stats, Instrumentation], Values]


def _value(read: Callable[[Stats], int]) -> Reading:
    return lambda stats, _: ((read(stats), {}),)


def _by_reason(read: Callable[[Stats], Mapping[str, int]]) -> Reading:
    return lambda stats, _: ((n, {"error.type": reason}) for reason, n in read(stats).items())


def _capacity(_: Stats, member: Instrumentation) -> Values:
    return ((member.capacity, {}),)


_OBSERVED: Final[tuple[tuple[str, bool, str, str, Reading], ...]] = (
    # name after "segment.client.", monotonic (a counter, else an up-down counter), unit, description, reading
    ("event.accepted", True, "{event}", "Events accepted by a call.", _value(lambda s: s.accepted)),
    ("event.delivered", True, "{event}", "Events Segment accepted.", _value(lambda s: s.delivered)),
    ("event.failed", True, "{event}", "Events whose delivery failed.", _by_reason(lambda s: s.failed)),
    ("event.dropped", True, "{event}", "Events never attempted.", _by_reason(lambda s: s.dropped)),
    ("event.violations", True, "{event}", "Events breaking a tracking plan.", _value(lambda s: s.violations)),
    ("request.retries", True, "{retry}", "Batch requests retried.", _value(lambda s: s.retries)),
    ("batch.sent", True, "{batch}", "Batches sent to the end.", _value(lambda s: s.batches_sent)),
    ("queue.size", False, "{event}", "Events in the queue.", _value(lambda s: s.queue_depth)),
    ("queue.capacity", False, "{event}", "The queue's bound (max_queue_size).", _capacity),
    ("batch.inflight", False, "{batch}", "Batches being sent.", _value(lambda s: s.batches_in_flight)),
)  # fmt: skip


class _Instruments:
    """One set of instruments per meter provider, serving every instance instrumented with it.

    OpenTelemetry keeps the first callbacks of an instrument name for good, so instances are not
    given instruments of their own: the callbacks here report every live instrumentation.
    """

    _by_provider: ClassVar[weakref.WeakKeyDictionary[MeterProvider, _Instruments]] = (
        weakref.WeakKeyDictionary()
    )
    _lock: ClassVar = threading.Lock()

    def __init__(self, meter: Meter) -> None:
        self._members: list[Instrumentation] = []
        self._instances: weakref.WeakSet[Analytics] = weakref.WeakSet()
        for name, counter, unit, description, read in _OBSERVED:
            create = meter.create_observable_counter if counter else meter.create_observable_up_down_counter
            create(f"segment.client.{name}", [self._callback(read)], unit, description)
        self.duration = meter.create_histogram(
            "segment.client.delivery.duration",
            unit="s",
            description="Seconds from accepting a batch's oldest event until the batch settled.",
        )
        self.size = meter.create_histogram(
            "segment.client.batch.size", unit="{event}", description="Events per batch request."
        )

    @classmethod
    def of(cls, provider: MeterProvider) -> _Instruments:
        """The instruments of `provider`, made on first use."""
        with cls._lock:
            instruments = cls._by_provider.get(provider)
            if instruments is None:
                meter = provider.get_meter(SCOPE, __version__)
                instruments = cls._by_provider[provider] = cls(meter)
            return instruments

    def add(self, analytics: Analytics, instrumentation: Instrumentation) -> None:
        """Report `instrumentation` from now on (and forget those closed or collected).

        Raises:
            ConfigError: `analytics` is instrumented already with this provider.
        """
        with self._lock:
            if analytics in self._instances:
                raise ConfigError("analytics", "instrumented already with this meter provider")
            self._instances.add(analytics)
            self._members = [m for m in self._members if m.stats() is not None] + [instrumentation]

    def remove(self, analytics: Analytics) -> None:
        """`analytics` is no longer instrumented with this provider."""
        with self._lock:
            self._instances.discard(analytics)

    def _callback(self, read: Reading) -> Callable[[CallbackOptions], list[Observation]]:
        def observe(options: CallbackOptions) -> list[Observation]:
            # One value per attribute set: an observed value is a total, so instances sharing
            # attributes are added here (the SDK would keep only the last of equal sets).
            totals: dict[frozenset[tuple[str, AttributeValue]], tuple[int, dict[str, AttributeValue]]] = {}
            for member in self._members:
                stats = member.stats()
                if stats is None:
                    continue
                for value, extra in read(stats, member):
                    attributes = {**member.attributes, **extra}
                    key = frozenset(attributes.items())
                    total = totals.get(key, (0, attributes))[0]
                    totals[key] = (total + value, attributes)
            return [Observation(value, attributes) for value, attributes in totals.values()]

        return observe
