"""OpenTelemetry metrics of an instance, as in docs/observability.md; run: `python examples/otel_metrics.py`.

Needs `pip install 'analytics-async[otel]' opentelemetry-sdk`. Sends 10 events to a local
Segment-compatible server that refuses that first batch (400), then 40 that it accepts, and prints what
an exporter would receive. In a service, give the MeterProvider your exporter (OTLP, Prometheus)
instead of the in-memory reader, and call `instrument(analytics)` once, where the instance is made.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint

from analytics_async import Analytics
from analytics_async.otel import instrument
from analytics_async.testing import SegmentSink


async def main() -> dict[str, Any]:
    """Send 10 + 40 events with metrics on; return {metric name: value, or (count, sum) for histograms}."""

    async def refuse_the_first(request: web.Request, n: int) -> web.StreamResponse | None:
        return web.Response(status=400) if n == 1 else None

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    async with SegmentSink() as sink:
        sink.responder = refuse_the_first
        analytics = Analytics(write_key="demo", host=sink.url, flush_at=10)
        instrument(analytics, meter_provider=provider, attributes={"service.name": "example"})
        for batch in (10, 40):
            for i in range(batch):
                await analytics.track(event="Item Viewed", user_id=f"u{i % 7}")
            await analytics.flush()
        await analytics.flush(close=True, timeout=30)

    collected: dict[str, Any] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    name = metric.name + "".join(
                        f"[{k}={v!s}]" for k, v in (point.attributes or {}).items() if k != "service.name"
                    )
                    if isinstance(point, HistogramDataPoint):
                        collected[name] = (point.count, point.sum)
                    elif isinstance(point, NumberDataPoint):
                        collected[name] = point.value
    return collected


if __name__ == "__main__":
    for name, value in sorted(asyncio.run(main()).items()):
        print(f"{name:<45} {value}")
