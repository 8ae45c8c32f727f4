"""`python -m analytics_async e2e-cli --input JSON`: the CLI Segment's cross-SDK end-to-end harness drives.

Input: `{"writeKey", "apiHost", "sequences": [{"delayMs", "events": [<Segment message objects>]}],
"config": {"flushAt", "flushInterval" (ms), "maxRetries", "timeout" (s)}}`. Every event is sent through
`Analytics` in order (sleeping `delayMs` before each sequence), then the instance is flushed and closed.
The last stdout line is `{"success": true|false, "sentBatches": N}` plus `"error"` on failure; the exit
code is 0 whatever happened (the harness reads the line).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from .._lifecycle.client import Analytics
from ..errors import AnalyticsError

__all__ = ["run_e2e"]

_FIELDS = {  # Segment message field -> keyword of our calls
    "userId": "user_id", "anonymousId": "anonymous_id", "event": "event", "name": "name",
    "category": "category", "properties": "properties", "traits": "traits", "groupId": "group_id",
    "previousId": "previous_id", "context": "context", "integrations": "integrations",
    "timestamp": "timestamp", "messageId": "message_id",
}  # fmt: skip
_ACCEPTS = {
    "track": {"user_id", "anonymous_id", "event", "properties"},
    "identify": {"user_id", "anonymous_id", "traits"},
    "page": {"user_id", "anonymous_id", "name", "category", "properties"},
    "screen": {"user_id", "anonymous_id", "name", "category", "properties"},
    "group": {"user_id", "anonymous_id", "group_id", "traits"},
    "alias": {"user_id", "previous_id"},
}
_COMMON = {"context", "integrations", "timestamp", "message_id"}
_REQUIRED = {"track": ("event",), "group": ("group_id",), "alias": ("user_id", "previous_id")}


class _InputError(ValueError):
    """The --input document is not what the harness sends."""


def _settings(spec: Mapping[str, Any]) -> dict[str, Any]:
    config = spec.get("config") or {}
    if not isinstance(config, Mapping):
        raise _InputError("config must be an object")
    settings: dict[str, Any] = {
        "write_key": spec.get("writeKey"),
        "host": spec.get("apiHost") or "https://api.segment.io",
    }
    if "flushAt" in config:
        settings["flush_at"] = config["flushAt"]
    if "flushInterval" in config:
        settings["flush_interval"] = config["flushInterval"] / 1000
    if "maxRetries" in config:
        settings["max_retries"] = config["maxRetries"]
    if "timeout" in config:
        settings["http_request_timeout"] = config["timeout"]
    return settings


async def _send(analytics: Analytics, event: object) -> None:
    if not isinstance(event, Mapping) or event.get("type") not in _ACCEPTS:
        raise _InputError(f"an event must be an object with a type among {sorted(_ACCEPTS)}")
    kind = event["type"]
    kwargs = {_FIELDS[k]: v for k, v in event.items() if k in _FIELDS}
    kwargs = {k: v for k, v in kwargs.items() if k in _ACCEPTS[kind] | _COMMON}
    for required in _REQUIRED.get(kind, ()):
        kwargs.setdefault(required, None)  # absent: our validation names the field
    await getattr(analytics, kind)(**kwargs)


async def run_e2e(raw: str, out: TextIO = sys.stdout) -> int:
    """Run the harness's scenario; print the result line; always return 0."""
    result: dict[str, Any] = {"success": False, "sentBatches": 0}
    analytics: Analytics | None = None
    errors: list[str] = []
    try:
        spec = json.loads(raw)
        if not isinstance(spec, Mapping) or not isinstance(spec.get("sequences", []), list):
            raise _InputError("--input must be an object with a sequences list")
        analytics = Analytics(**_settings(spec))
        analytics.on("error", lambda e: errors.append(str(e.reason)))
        for sequence in spec.get("sequences", []):
            await asyncio.sleep(max(0.0, float(sequence.get("delayMs", 0))) / 1000)
            for event in sequence.get("events", []):
                await _send(analytics, event)
        await analytics.close_and_flush()
        stats = analytics.stats()
        result["sentBatches"] = stats.batches_sent
        result["success"] = not errors and stats.delivered == stats.accepted
        if not result["success"]:
            result["error"] = errors[0] if errors else "not every event was delivered"
    except (ValueError, TypeError, AttributeError, AnalyticsError) as exc:  # ValidationError, ConfigError too
        result["error"] = f"{type(exc).__name__}: {exc}"
        if analytics is not None:
            await analytics.flush(close=True, timeout=0)
            result["sentBatches"] = analytics.stats().batches_sent
    out.write(json.dumps(result) + "\n")
    out.flush()
    return 0
