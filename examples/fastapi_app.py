"""A FastAPI service that tracks an event per request and loses none on shutdown.

Run against a local sink (in another terminal: `python -m analytics_async sink --port 8080`):

    SEGMENT_HOST=http://127.0.0.1:8080 uvicorn fastapi_app:app --app-dir examples --port 8000
    curl -X POST localhost:8000/orders/u1

Stopping uvicorn (Ctrl-C, or SIGTERM from your orchestrator) runs the lifespan shutdown, which
delivers every queued event within `shutdown_timeout` seconds.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Depends, FastAPI

from analytics_async import Analytics
from analytics_async.frameworks import get_analytics, lifespan

analytics = Analytics(
    write_key=os.environ.get("SEGMENT_WRITE_KEY", "dev-write-key"),
    host=os.environ.get("SEGMENT_HOST", "https://api.segment.io"),
    flush_at=50,
)
app = FastAPI(lifespan=lifespan(analytics, shutdown_timeout=10))


@app.get("/health")
async def health() -> dict[str, str]:
    """Liveness probe."""
    return {"status": "ok"}


@app.post("/orders/{user_id}")
async def create_order(
    user_id: str, analytics: Annotated[Analytics, Depends(get_analytics)], total: float = 9.99
) -> dict[str, str]:
    """Record the order; the call returns as soon as the event is queued."""
    ctx = await analytics.track(event="Order Completed", user_id=user_id, properties={"total": total})
    return {"messageId": ctx.event["messageId"]}
