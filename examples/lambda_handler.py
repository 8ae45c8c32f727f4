"""AWS Lambda handlers, in both patterns; events are flushed before each invocation returns.

Deploy `handler` (one instance reused across invocations) or `per_invocation_handler` (a new
instance per invocation, as Segment's docs recommend). The flush deadline is the invocation's
remaining time minus `margin` seconds, so the function never overruns its timeout.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from analytics_async import Analytics, ErrorEvent
from analytics_async.frameworks import lambda_handler

log = logging.getLogger("orders")


def make_analytics() -> Analytics:
    """The client, configured from the environment."""
    return Analytics(
        write_key=os.environ.get("SEGMENT_WRITE_KEY", "dev-write-key"),
        host=os.environ.get("SEGMENT_HOST", "https://api.segment.io"),
    )


analytics = make_analytics()  # module level: reused by every invocation of this container


@lambda_handler(analytics, margin=0.5)
async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Track the order with the module-level instance."""
    await analytics.track(
        event="Order Completed", user_id=event["user_id"], properties=event.get("order", {})
    )
    return {"statusCode": 200}


def report(error: ErrorEvent) -> None:
    """Log each event that could not be delivered."""
    log.warning("event not delivered: %s", error.reason)


@lambda_handler(factory=make_analytics, margin=0.5)
async def per_invocation_handler(event: dict[str, Any], context: Any, analytics: Analytics) -> dict[str, Any]:
    """Track the order with an instance made for this invocation (closed when it returns)."""
    analytics.on("error", report)
    await analytics.track(
        event="Order Completed", user_id=event["user_id"], properties=event.get("order", {})
    )
    return {"statusCode": 200}
