"""A WSGI app using the drop-in sync API (tests/test_servers_sync.py): one event per request, no flush.

Events leave from the background thread, or from the exit hooks when the worker stops.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import analytics_async.sync as analytics

analytics.write_key = "wk"
analytics.host = os.environ["SINK_URL"]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Track one event for the request and answer at once."""
    analytics.track(str(os.getpid()), "request", {"path": environ["PATH_INFO"]})
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
