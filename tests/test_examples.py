"""The examples in examples/ run and do what the docs say."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from analytics_async.testing import SegmentSink
from tests.helpers import load_module

EXAMPLES = Path(__file__).parent.parent / "examples"


def load(name: str) -> ModuleType:
    return load_module(EXAMPLES / f"{name}.py", f"examples_{name}")


async def test_plugins_tour() -> None:
    """Each plugin type does its job: bots dropped, e-mails hashed, names lowercased, audit routed."""
    result = await load("plugins_tour").main()
    arrived = result["arrived"]
    assert [(kind, event) for kind, event, _ in arrived] == [
        ("identify", None),
        ("track", "item purchased"),
        ("track", "internal ping"),
    ]
    assert arrived[0][2]["email"] != "Ada@Example.com"
    assert len(arrived[0][2]["email"]) == 64
    assert result["audit"] == ["u1 did item purchased"]
    assert result["after"] == ["delivered", "delivered", "delivered"]
    assert result["utility"] == ["caches"]


async def test_backfill(tmp_path: Path, sink: SegmentSink) -> None:
    """The backfill script sends every historical event once, with its original timestamp."""
    rows = [
        {"user_id": f"u{i % 37}", "event": "Order Completed",
         "timestamp": f"2024-05-01T12:{i % 60:02d}:00+00:00", "properties": {"n": i},
         "message_id": f"backfill-{i}"}
        for i in range(2000)
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    counts = await load("backfill").backfill(path, write_key="k", host=sink.url, progress_every=1000)
    assert counts == {"sent": 2000, "delivered": 2000, "failed": 0}
    by_id = {e["messageId"]: e for e in sink.events}
    assert len(by_id) == len(sink.events) == 2000
    assert by_id["backfill-61"]["timestamp"] == "2024-05-01T12:01:00.000Z"
    assert by_id["backfill-61"]["properties"] == {"n": 61}


async def test_otel_metrics() -> None:
    """The metrics example reports the refused batch by reason, the delivered one, and batch sizes."""
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        pytest.skip("needs opentelemetry-sdk (the test extra)")
    metrics = await load("otel_metrics").main()
    assert metrics["segment.client.event.accepted"] == 50
    assert metrics["segment.client.event.delivered"] == 40
    assert metrics["segment.client.event.failed[error.type=HTTPStatusError]"] == 10
    assert metrics["segment.client.batch.size"] == (1, 40)
    assert metrics["segment.client.batch.size[error.type=HTTPStatusError]"] == (1, 10)
    assert metrics["segment.client.queue.size"] == 0
