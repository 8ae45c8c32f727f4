"""The `sink` and `send` commands of `python -m analytics_async` (argument parsing is in __main__)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import ssl
import sys
import time
from collections import Counter
from datetime import datetime
from typing import Any, TextIO

from .._lifecycle.client import Analytics
from ..errors import AnalyticsError, ConfigError
from .sink import DEFAULT_KEEP, Faults, ReceivedBatch, SegmentSink, event_problem

__all__ = ["UsageError", "json_object", "run_send", "run_sink"]


class UsageError(Exception):
    """Invalid input: printed as one line, exit code 2."""


def _print(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()


def _describe(event: dict[str, Any]) -> str:
    kind = event.get("type", "?")
    if kind == "track":
        return str(event.get("event", ""))
    if kind in ("page", "screen"):
        return " / ".join(str(event[k]) for k in ("category", "name") if event.get(k)) or "-"
    if kind == "group":
        return f"group {event.get('groupId')}"
    if kind == "alias":
        return f"was {event.get('previousId')}"
    return ", ".join(sorted(event.get("traits", {}))) or "-"


class _Table:
    """Prints each received event as a row, and counts for the summary."""

    def __init__(self, out: TextIO, *, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet
        self.types: Counter[str] = Counter()
        self.rows = 0
        self.invalid = 0
        """Events the real API would drop (with a 200)."""

    def batch(self, batch: ReceivedBatch) -> None:
        self.types.update(str(e.get("type")) for e in batch.events)
        self.invalid += sum(event_problem(e) is not None for e in batch.events)
        if self.quiet:
            return
        encoding = " gzip" if batch.headers.get("Content-Encoding") == "gzip" else ""
        auth = batch.headers.get("Authorization", "").split(" ")[0]
        _print(
            self.out,
            f"-- batch of {len(batch.events)} events, {batch.json_bytes} bytes{encoding}, auth {auth}",
        )
        for event in batch.events:
            if self.rows % 20 == 0:
                _print(self.out, f"{'time':<12} {'type':<9} {'what':<32} {'user':<20} messageId")
            self.rows += 1
            user = str(event.get("userId") or f"anon:{event.get('anonymousId')}")
            line = (
                f"{datetime.now().strftime('%H:%M:%S.%f')[:12]:<12} {event.get('type', '?'):<9} "
                f"{_describe(event)[:32]:<32} {user[:20]:<20} {str(event.get('messageId', ''))[:13]}"
            )
            if (problem := event_problem(event)) is not None:
                line += f"  DROPPED by the API: {problem}"
            _print(self.out, line)


async def run_sink(
    *,
    host: str,
    port: int,
    path: str,
    faults: Faults,
    quiet: bool,
    duration: float | None,
    out: TextIO = sys.stdout,
    cert: str | None = None,
    key: str | None = None,
    record: str | None = None,
    ui: bool = False,
    keep: int = DEFAULT_KEEP,
    plan: Any = None,  # noqa: ANN401 - a TrackingPlan (the plans extra), loaded by the caller
) -> int:
    """Serve until SIGINT/SIGTERM (or `duration` seconds), printing events; then a summary.

    `cert` (and `key`, when not in the same file): serve HTTPS with that certificate. `record`: a
    file every accepted event is appended to, one JSON object per line.
    """
    table = _Table(out, quiet=quiet)
    sink = SegmentSink(
        path=path,
        faults=faults,
        on_batch=table.batch,
        record=record,
        ui=ui,
        keep=keep,
        plan=plan,
        retain=False,
    )
    context = None
    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            sys.stderr.write(f"analytics-async: error: cannot load --cert/--key: {exc}\n")
            return 2
    try:
        await sink.start(port=port, host=host, ssl_context=context)
    except OSError as exc:
        sys.stderr.write(f"analytics-async: error: cannot listen on {host}:{port}: {exc.strerror or exc}\n")
        return 1
    _print(out, f"Segment-compatible sink listening on {sink.url}{path}")
    _print(out, f"Point your client at it: Analytics(write_key=..., host={sink.url!r})")
    if ui:
        _print(out, f"Source Debugger: open {sink.url}/ in a browser")
    if faults != Faults():
        _print(out, f"Injecting faults: {faults}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    try:
        if duration is None:
            await stop.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration)
    finally:
        await sink.stop()
    elapsed = time.monotonic() - started
    events = sum(table.types.values())
    _print(out, "")
    counts = f"{sink.requests} requests, {sink.accepted_batches} batches, {events} events"
    _print(out, f"Summary after {elapsed:.1f} s: {counts}")
    if table.types:
        _print(out, "  by type: " + ", ".join(f"{k}={v}" for k, v in sorted(table.types.items())))
    _print(out, f"  rejected (400/401): {len(sink.rejections)}; dropped by API validation: {table.invalid}")
    if sink.injected:
        _print(out, "  injected faults: " + ", ".join(f"{k}={v}" for k, v in sorted(sink.injected.items())))
    return 0


def json_object(text: str, where: str) -> dict[str, Any]:
    """`text` parsed as a JSON object; else UsageError: `{where} must be a JSON object...`."""
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where} must be a JSON object: {exc}") from None
    if not isinstance(parsed, dict):
        raise UsageError(f"{where} must be a JSON object, not {type(parsed).__name__}")
    return parsed


def _json_arg(name: str, value: str | None) -> dict[str, Any] | None:
    return None if value is None else json_object(value, f"--{name}")


async def run_send(args: Any, out: TextIO = sys.stdout) -> int:  # noqa: ANN401 - argparse.Namespace
    """Send one event and report whether it was delivered; exit code 0 if so, 1 if not."""
    write_key = args.write_key or os.environ.get("SEGMENT_WRITE_KEY")
    if not write_key:
        raise UsageError("a write key is needed: --write-key or the SEGMENT_WRITE_KEY environment variable")
    common: dict[str, Any] = {
        "context": _json_arg("context", args.context),
        "integrations": _json_arg("integrations", args.integrations),
        "timestamp": args.timestamp,
        "message_id": args.message_id,
    }
    ids = {"user_id": args.user_id, "anonymous_id": args.anonymous_id}
    properties = _json_arg("properties", args.properties)
    page = {"name": args.name, "category": args.category, "properties": properties, **ids}
    calls: dict[str, dict[str, Any]] = {
        "track": {"event": args.event, "properties": properties, **ids},
        "identify": {"traits": _json_arg("traits", args.traits), **ids},
        "page": page,
        "screen": page,
        "group": {"group_id": args.group_id, "traits": _json_arg("traits", args.traits), **ids},
        "alias": {"user_id": args.user_id, "previous_id": args.previous_id},
    }  # fmt: skip
    try:
        analytics = Analytics(
            write_key=write_key, host=args.host, gzip=args.gzip, max_retries=args.max_retries
        )
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        ctx = await getattr(analytics, args.type)(**calls[args.type], **common)
    except AnalyticsError as exc:
        _print(out, f"invalid: {exc}")
        await analytics.flush(close=True, timeout=0)
        return 2
    await analytics.flush(close=True, timeout=args.timeout)
    failure = ctx.failed_delivery()
    if failure is None:
        _print(out, f"delivered {args.type} messageId={ctx.event['messageId']} to {analytics._settings.url}")  # noqa: SLF001
        return 0
    _print(out, f"failed: {failure.reason}")
    return 1
