"""An aiohttp web service that tracks an event per request and loses none on shutdown.

    SEGMENT_HOST=http://127.0.0.1:8080 python examples/aiohttp_app.py --port 8000

`web.run_app` stops on SIGINT/SIGTERM and runs the app's cleanup, where `setup_aiohttp` closes the
client with a deadline.
"""

from __future__ import annotations

import argparse
import os

from aiohttp import web

from analytics_async import Analytics
from analytics_async.frameworks import ANALYTICS_KEY, setup_aiohttp


async def health(request: web.Request) -> web.Response:
    """Liveness probe."""
    return web.json_response({"status": "ok"})


async def create_order(request: web.Request) -> web.Response:
    """Record the order; the call returns as soon as the event is queued."""
    analytics = request.app[ANALYTICS_KEY]
    ctx = await analytics.track(
        event="Order Completed", user_id=request.match_info["user_id"], properties={"total": 9.99}
    )
    return web.json_response({"messageId": ctx.event["messageId"]})


def make_app() -> web.Application:
    """The application, with analytics set up and closed on cleanup."""
    app = web.Application()
    analytics = Analytics(
        write_key=os.environ.get("SEGMENT_WRITE_KEY", "dev-write-key"),
        host=os.environ.get("SEGMENT_HOST", "https://api.segment.io"),
        flush_at=50,
    )
    setup_aiohttp(app, analytics, shutdown_timeout=10)
    app.router.add_get("/health", health)
    app.router.add_post("/orders/{user_id}", create_order)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    web.run_app(make_app(), host="127.0.0.1", port=parser.parse_args().port, print=None)
