"""Celery tasks sending events with the drop-in sync API (prefork or threads; fork-safe).

Run a worker: `SEGMENT_WRITE_KEY=... celery -A examples.celery_tasks worker`. With the prefork pool,
each child process starts its own sending thread on first use and never re-sends events the parent
queued; the exit hook sends what a child holds when it shuts down.
"""

from __future__ import annotations

import os

from celery import Celery

import analytics_async.sync as analytics  # was: import segment.analytics as analytics

analytics.write_key = os.environ.get("SEGMENT_WRITE_KEY", "YOUR_WRITE_KEY")
analytics.host = os.environ.get("SEGMENT_HOST", "https://api.segment.io")

app = Celery("examples", broker=os.environ.get("CELERY_BROKER_URL", "memory://"))


@app.task  # type: ignore[untyped-decorator] # celery ships no type information
def send_invoice(user_id: str, amount: float) -> str:
    """Pretend to send an invoice, and track that it was sent."""
    analytics.track(user_id, "Invoice Sent", {"amount": amount})
    return user_id
