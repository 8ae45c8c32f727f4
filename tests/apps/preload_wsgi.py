"""A WSGI app for gunicorn --preload (tests/test_fork.py): one Analytics made in the master.

The master queues an event at import time and never sends it; each request in a worker tracks one
event and flushes it. A worker must never send the master's queued event.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from typing import Any

from analytics_async import Analytics

analytics = Analytics(write_key="k", host=os.environ["SINK_URL"], flush_interval=3600)
asyncio.run(analytics.track(event="preloaded", user_id="master"))


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Track one event for the request and deliver it before answering."""

    async def handle() -> None:
        await analytics.track(
            event="request", user_id=str(os.getpid()), properties={"path": environ["PATH_INFO"]}
        )
        await analytics.flush(timeout=5)

    asyncio.run(handle())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
