"""A one-file Django app sending events with the drop-in sync API.

Run: `SEGMENT_WRITE_KEY=... python examples/django_app.py runserver`. In a real project, set
`analytics.write_key` in your AppConfig.ready() or settings module; calls work from any view, any
thread, and in gunicorn/uwsgi workers forked after the import (a worker never re-sends the master's
events).
"""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

import analytics_async.sync as analytics  # was: import segment.analytics as analytics

if not settings.configured:
    settings.configure(
        DEBUG=True, SECRET_KEY="example-only", ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"],  # noqa: S106
        MIDDLEWARE=[], INSTALLED_APPS=[],
    )  # fmt: skip

analytics.write_key = os.environ.get("SEGMENT_WRITE_KEY", "YOUR_WRITE_KEY")
analytics.host = os.environ.get("SEGMENT_HOST", "https://api.segment.io")


def checkout(request: HttpRequest) -> JsonResponse:
    """Track a purchase; the response never waits for Segment."""
    user_id = request.POST["user_id"]
    analytics.track(user_id, "Order Completed", {"revenue": float(request.POST.get("revenue", "0"))})
    return JsonResponse({"ok": user_id})


urlpatterns = [path("checkout", checkout)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
