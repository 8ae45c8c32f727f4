"""OpenTelemetry metrics (`analytics_async.otel`): what an exporter collects from an instance."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.metrics")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from analytics_async import Analytics, ConfigError, otel
from analytics_async.otel import instrument
from analytics_async.testing import FakeClock, SegmentSink

from .conftest import MakeAnalytics
from .helpers import drive, statuses

Points = dict[str, list[tuple[dict[str, Any], Any]]]


def collect(reader: InMemoryMetricReader) -> Points:
    """Every data point collected now, by metric name: (attributes, value or histogram point)."""
    data = reader.get_metrics_data()
    points: Points = {}
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            assert scope.scope.name == "analytics_async"
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", point)
                    points.setdefault(metric.name, []).append((dict(point.attributes or {}), value))
    return points


def value(points: Points, name: str, **attributes: Any) -> Any:
    """The value of `name` with exactly `attributes` (None if absent)."""
    return next((v for a, v in points.get(name, []) if a == attributes), None)


@pytest.fixture
def reader() -> InMemoryMetricReader:
    """An in-memory reader with its own MeterProvider (the global one stays untouched)."""
    return InMemoryMetricReader()


@pytest.fixture
def provider(reader: InMemoryMetricReader) -> MeterProvider:
    """A MeterProvider collecting into `reader`."""
    return MeterProvider(metric_readers=[reader])


async def test_counters_gauges_and_histograms_of_delivered_batches(
    make_analytics: MakeAnalytics, clock: FakeClock, provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    """Delivered events are counted; each batch records its size and its oldest event's wait."""
    analytics = make_analytics(flush_at=3, flush_interval=10, clock=clock)
    instrument(analytics, meter_provider=provider)
    await analytics.track(event="a", user_id="u")
    await clock.advance(2)
    await analytics.track(event="b", user_id="u")
    await analytics.track(event="c", user_id="u")  # the third: the batch leaves 2 s after the first
    await analytics.flush()
    points = collect(reader)
    assert value(points, "segment.client.event.accepted") == 3
    assert value(points, "segment.client.event.delivered") == 3
    assert value(points, "segment.client.batch.sent") == 1
    assert value(points, "segment.client.request.retries") == 0
    assert value(points, "segment.client.event.violations") == 0
    assert value(points, "segment.client.queue.size") == 0
    assert value(points, "segment.client.queue.capacity") == 10_000
    assert value(points, "segment.client.batch.inflight") == 0
    size = value(points, "segment.client.batch.size")
    assert (size.count, size.sum) == (1, 3)
    duration = value(points, "segment.client.delivery.duration")
    assert duration.count == 1
    assert duration.sum == pytest.approx(2.0)


async def test_failures_and_drops_carry_their_reason(
    make_analytics: MakeAnalytics,
    sink: SegmentSink,
    clock: FakeClock,
    provider: MeterProvider,
    reader: InMemoryMetricReader,
) -> None:
    """Failed and dropped events are counted by `error.type`; a failed batch's histograms say why."""
    sink.responder = statuses(then=400)
    analytics = make_analytics(flush_at=1, max_retries=0, clock=clock)
    instrument(analytics, meter_provider=provider, attributes={"segment.source": "billing"})
    await analytics.track(event="refused", user_id="u")
    await analytics.flush(close=True)
    await analytics.track(event="after close", user_id="u")
    points = collect(reader)
    source = {"segment.source": "billing"}
    assert value(points, "segment.client.event.failed", **source, **{"error.type": "HTTPStatusError"}) == 1
    assert value(points, "segment.client.event.dropped", **source, **{"error.type": "ClosedError"}) == 1
    assert value(points, "segment.client.event.delivered", **source) == 0
    failed = value(points, "segment.client.batch.size", **source, **{"error.type": "HTTPStatusError"})
    assert (failed.count, failed.sum) == (1, 1)


async def test_retries_are_counted(
    make_analytics: MakeAnalytics,
    sink: SegmentSink,
    clock: FakeClock,
    provider: MeterProvider,
    reader: InMemoryMetricReader,
) -> None:
    """Each retried request counts once in `segment.client.request.retries`."""
    sink.responder = statuses(500, 500)
    analytics = make_analytics(flush_at=1, clock=clock)
    instrument(analytics, meter_provider=provider)
    ctx = await analytics.track(event="e", user_id="u")
    await drive(clock, asyncio.ensure_future(ctx.delivered()))
    assert await ctx.delivered()
    points = collect(reader)
    assert value(points, "segment.client.request.retries") == 2
    assert value(points, "segment.client.event.delivered") == 1


async def test_instances_with_equal_attributes_add_up(
    make_analytics: MakeAnalytics, provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    """Two instances on one provider: their counters are added, or told apart by attributes."""
    first, second, third = (make_analytics() for _ in range(3))
    instrument(first, meter_provider=provider)
    instrument(second, meter_provider=provider)
    instrument(third, meter_provider=provider, attributes={"app": "other"})
    for analytics, n in ((first, 1), (second, 2), (third, 4)):
        for _ in range(n):
            await analytics.track(event="e", user_id="u")
        await analytics.flush()
    points = collect(reader)
    assert value(points, "segment.client.event.delivered") == 3
    assert value(points, "segment.client.event.delivered", app="other") == 4
    with pytest.raises(ConfigError, match="instrumented already"):
        instrument(first, meter_provider=provider)


async def test_close_and_garbage_collection_stop_reporting(
    make_analytics: MakeAnalytics, provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    """A closed instrumentation, or a collected instance, reports nothing more (and is not kept alive)."""
    kept = make_analytics()
    instrumentation = instrument(kept, meter_provider=provider, attributes={"which": "closed"})
    gone = Analytics(write_key="k", host="http://127.0.0.1:9")
    instrument(gone, meter_provider=provider, attributes={"which": "gone"})
    assert value(collect(reader), "segment.client.event.accepted", which="gone") == 0
    instrumentation.close()
    del gone
    gc.collect()
    points = collect(reader)
    assert value(points, "segment.client.event.accepted", which="closed") is None
    assert value(points, "segment.client.event.accepted", which="gone") is None


@pytest.mark.slow
def test_without_the_extra_the_import_error_names_it() -> None:
    """Without OpenTelemetry installed, importing the module says which extra to install."""
    code = "import sys; sys.modules['opentelemetry'] = None; import analytics_async.otel"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "pip install 'analytics-async[otel]'" in result.stderr.splitlines()[-1]


def test_the_module_exports_its_documented_names() -> None:
    """`analytics_async.otel` exports exactly `instrument` and `Instrumentation`."""
    assert sorted(otel.__all__) == ["Instrumentation", "instrument"]
    assert all(hasattr(otel, name) for name in otel.__all__)


async def test_events_accepted_before_instrumenting_record_no_duration(
    make_analytics: MakeAnalytics, clock: FakeClock, provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    """A batch of events accepted before `instrument()` records its size but no made-up duration."""
    analytics = make_analytics(flush_at=2, flush_interval=10, clock=clock)
    await clock.advance(1000)
    await analytics.track(event="before", user_id="u")
    instrument(analytics, meter_provider=provider)
    await analytics.track(event="after", user_id="u")
    await analytics.flush()
    points = collect(reader)
    assert value(points, "segment.client.batch.size").count == 1
    duration = value(points, "segment.client.delivery.duration")
    assert duration.max < 10  # from the timed event, never the clock's whole reading


async def test_a_closed_instrumentation_can_be_made_again(
    make_analytics: MakeAnalytics, provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    """After close(), the instance may be instrumented anew; only the new attributes are reported."""
    analytics = make_analytics()
    instrument(analytics, meter_provider=provider, attributes={"v": 1}).close()
    instrument(analytics, meter_provider=provider, attributes={"v": 2})
    await analytics.track(event="e", user_id="u")
    await analytics.flush()
    points = collect(reader)
    assert value(points, "segment.client.event.delivered", v=2) == 1
    assert value(points, "segment.client.event.delivered", v=1) is None
    assert [a for a, _ in points["segment.client.batch.size"]] == [{"v": 2}]


async def test_collecting_from_another_thread_while_events_flow(
    make_analytics: MakeAnalytics, sink: SegmentSink, provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    """An exporter's thread collecting while events are delivered, failed and dropped never breaks."""
    sink.responder = statuses(*([400, 200] * 50))
    analytics = make_analytics(flush_at=5, max_queue_size=50)
    instrument(analytics, meter_provider=provider)
    stop = threading.Event()
    errors: list[BaseException] = []

    def collect_forever() -> None:
        while not stop.is_set():
            try:
                collect(reader)
            except BaseException as exc:
                errors.append(exc)

    collector = threading.Thread(target=collect_forever)
    collector.start()
    try:
        for i in range(2000):
            await analytics.track(event="e", user_id="u", properties={"i": i})
        await analytics.flush()
    finally:
        stop.set()
        collector.join(5)
    assert errors == []
    points = collect(reader)
    failed = sum(v for _, v in points["segment.client.event.failed"])
    dropped = sum(v for _, v in points.get("segment.client.event.dropped", []))
    assert failed > 0
    assert value(points, "segment.client.event.delivered") + failed + dropped == 2000
