"""`python -m analytics_async e2e-cli --input JSON`: the CLI Segment's cross-SDK end-to-end harness drives.

Input: `{"writeKey", "apiHost", "sequences": [{"delayMs", "events": [<Segment message objects>]}],
"config": {"flushAt", "flushInterval" (ms), "maxRetries", "timeout" (s)}}`. Every valid event is sent
through `Analytics` in order (sleeping `delayMs` before each sequence), then the instance is flushed
and closed. The last stdout line is `{"success": true|false, "sentBatches": N}` plus `"error"` on
failure; the exit code is 0 whatever happened (the harness reads the line).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from .._lifecycle.client import Analytics
from ..errors import ConfigError, ValidationError

__all__ = ["E2E_MAX_IN_FLIGHT", "InputError", "run_e2e"]

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


E2E_MAX_IN_FLIGHT = 1_000
"""Batches in flight in the harness: analytics-node bounds none, so no batch waits for a slot (and
grows past flushAt, as a backlog does in the library, docs/delivery.md#batching)."""


class InputError(ValueError):
    """The --input document is not what the harness sends."""


def _settings(spec: Mapping[str, Any]) -> dict[str, Any]:
    config = spec.get("config") or {}
    if not isinstance(config, Mapping):
        raise InputError("config must be an object")
    settings: dict[str, Any] = {
        "write_key": spec.get("writeKey"),
        "host": spec.get("apiHost") or "https://api.segment.io",
        "max_in_flight": E2E_MAX_IN_FLIGHT,
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
        raise InputError(f"an event must be an object with a type among {sorted(_ACCEPTS)}")
    kind = event["type"]
    kwargs = {_FIELDS[k]: v for k, v in event.items() if k in _FIELDS}
    kwargs = {k: v for k, v in kwargs.items() if k in _ACCEPTS[kind] | _COMMON}
    for required in _REQUIRED.get(kind, ()):
        kwargs.setdefault(required, None)  # absent: our validation names the field
    await getattr(analytics, kind)(**kwargs)


def _spec(raw: str) -> Mapping[str, Any]:
    try:
        spec = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"--input is not JSON ({exc})") from None
    if not isinstance(spec, Mapping) or not isinstance(spec.get("sequences", []), list):
        raise InputError("--input must be an object with a sequences list")
    return spec


async def run_e2e(raw: str, out: TextIO = sys.stdout) -> int:
    """Run the harness's scenario; print the result line; always return 0.

    Each event is an app's separate call: the loop turns between two (the batcher takes what came),
    so batches hold at most flushAt events as the official SDKs send them. An invalid event is
    reported and skipped, the valid ones are all sent. The closing flush waits `config.timeout`
    seconds when given (the scenario's only time bound; also each request's timeout), else the
    library's default (75 s). `sentBatches` counts the batches the server accepted (2xx).
    """
    result: dict[str, Any] = {"success": False, "sentBatches": 0}
    try:
        spec = _spec(raw)
        analytics = Analytics(**_settings(spec))
    except InputError as exc:
        return _print(out, {**result, "error": f"invalid input: {exc}"})
    except (ConfigError, TypeError) as exc:
        return _print(out, {**result, "error": f"invalid config: {exc}"})
    problems: list[str] = []
    accepted: list[int] = []
    analytics.on("error", lambda e: problems.append(f"{type(e.reason).__name__}: {e.reason}"))
    analytics.on("http_response", lambda r: accepted.append(r.status) if 200 <= r.status < 300 else None)
    invalid: list[str] = []
    number = 0
    for sequence in spec.get("sequences", []):
        delay = sequence.get("delayMs", 0) if isinstance(sequence, Mapping) else 0
        await asyncio.sleep(max(0.0, float(delay)) / 1000)
        for event in sequence.get("events", []) if isinstance(sequence, Mapping) else []:
            number += 1
            try:
                await _send(analytics, event)
            except (InputError, ValidationError, TypeError) as exc:  # this event only: the rest are sent
                invalid.append(f"event {number} is invalid: {exc}")
            await asyncio.sleep(0)  # an app's next call comes on a later turn of its loop
    config = spec.get("config") or {}
    await analytics.close_and_flush(timeout=config.get("timeout") if isinstance(config, Mapping) else None)
    stats = analytics.stats()
    result["sentBatches"] = len(accepted)
    result["success"] = not invalid and not problems and stats.delivered == stats.accepted
    if not result["success"]:
        result["error"] = "; ".join([*invalid, *problems[:1]]) or "not every event was delivered"
    return _print(out, result)


def _print(out: TextIO, result: dict[str, Any]) -> int:
    out.write(json.dumps(result) + "\n")
    out.flush()
    return 0
