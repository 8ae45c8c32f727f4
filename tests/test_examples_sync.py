"""The sync examples (Flask, Django, Celery) send through the drop-in API to a real local server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import analytics_async.sync as sync_analytics
from analytics_async.testing import SegmentSink

from .test_examples import load


@pytest.fixture
def drop_in(threaded_sink: SegmentSink, monkeypatch: pytest.MonkeyPatch) -> Iterator[SegmentSink]:
    """Point the examples' module-level configuration at the sink; restore the module afterwards."""
    monkeypatch.setenv("SEGMENT_WRITE_KEY", "wk")
    monkeypatch.setenv("SEGMENT_HOST", threaded_sink.url)
    for name in ("write_key", "host"):
        monkeypatch.setattr(sync_analytics, name, getattr(sync_analytics, name))
    monkeypatch.setattr(sync_analytics, "default_client", None)
    yield threaded_sink
    made = getattr(sync_analytics, "default_client", None)  # set by the example's first call
    if made is not None:
        made.shutdown(timeout=5)


def test_flask_example(drop_in: SegmentSink) -> None:
    """Ten sign-ups through Flask's test client: ten identify and ten track events arrive."""
    pytest.importorskip("flask")
    app = load("flask_app").app
    with app.test_client() as http:
        for i in range(10):
            assert http.post("/signup", data={"user_id": f"u{i}", "plan": "pro"}).status_code == 200
    sync_analytics.flush()
    assert sorted(e["type"] for e in drop_in.events) == ["identify"] * 10 + ["track"] * 10
    assert {e["userId"] for e in drop_in.events} == {f"u{i}" for i in range(10)}


def test_django_example(drop_in: SegmentSink) -> None:
    """Checkouts through Django's test client arrive as Order Completed events with their revenue."""
    pytest.importorskip("django")
    load("django_app")
    import django  # noqa: PLC0415 - configured by the example
    from django.test import Client as DjangoClient  # noqa: PLC0415

    django.setup()
    http = DjangoClient()
    for i in range(5):
        assert http.post("/checkout", {"user_id": f"u{i}", "revenue": "9.5"}).status_code == 200
    sync_analytics.flush()
    assert [(e["event"], e["properties"]["revenue"]) for e in drop_in.events] == [
        ("Order Completed", 9.5)
    ] * 5


def test_celery_example(drop_in: SegmentSink) -> None:
    """Celery tasks (run eagerly here) track through the drop-in API."""
    pytest.importorskip("celery")
    module = load("celery_tasks")
    module.app.conf.task_always_eager = True
    results = [module.send_invoice.delay(f"u{i}", 10.0 * i).get() for i in range(3)]
    assert results == ["u0", "u1", "u2"]
    sync_analytics.flush()
    assert [e["properties"]["amount"] for e in drop_in.events] == [0.0, 10.0, 20.0]
