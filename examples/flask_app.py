"""A Flask app sending events with the drop-in sync API.

Run: `SEGMENT_WRITE_KEY=... flask --app examples/flask_app run`. The only change from
segment-analytics-python is the import line. Calls return at once; a background thread batches and
sends; the exit hook sends what is left when the process ends.
"""

from __future__ import annotations

import os

from flask import Flask, request

import analytics_async.sync as analytics  # was: import segment.analytics as analytics

analytics.write_key = os.environ.get("SEGMENT_WRITE_KEY", "YOUR_WRITE_KEY")
analytics.host = os.environ.get("SEGMENT_HOST", "https://api.segment.io")

app = Flask(__name__)


@app.post("/signup")
def signup() -> dict[str, str]:
    """Track a sign-up; the response never waits for Segment."""
    user_id = request.form["user_id"]
    analytics.identify(user_id, {"plan": request.form.get("plan", "free")})
    analytics.track(user_id, "Signed Up", {"plan": request.form.get("plan", "free")})
    return {"ok": user_id}
