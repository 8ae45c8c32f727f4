"""CPU instructions per event through the whole pipeline, counted by callgrind (deterministic).

Times on a shared machine wander; instruction counts do not. The script runs the same program twice
under `valgrind --tool=callgrind`, with a small and a large number of `await analytics.track(...)`
calls (fresh properties each call, an in-memory HTTPClient answering 200), and reports the difference
divided by the difference in events: start-up, imports and the close cancel out.

Run: `python -m benchmarks.callgrind_per_event [--events N] [--plugin NAME]` (needs valgrind); the
plugin settings are benchmarks/plugins.py's: none, noop, enrichment, destination, two-of-each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

from analytics_async import Analytics, HTTPRequest, HTTPResponse
from benchmarks.clients.common import properties
from benchmarks.plugins import SETTINGS

PLUGINS = dict(
    zip(["none", "noop", "enrichment", "destination", "two-of-each"], SETTINGS.values(), strict=True)
)
"""The plugin settings of benchmarks/plugins.py, by short name."""


class NullHTTP:
    """An HTTPClient that answers 200 at once without touching the network."""

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Answer 200."""
        return HTTPResponse(200, "OK")

    async def aclose(self) -> None:
        """Nothing to release."""


async def run(events: int, plugin: str) -> None:
    """Send `events` track calls through the pipeline, then close."""
    analytics = Analytics(write_key="k", http_client=NullHTTP(), flush_at=100)
    if (make := PLUGINS[plugin]) is not None:
        await analytics.register(*make(plugin))
    for i in range(events):
        await analytics.track(event="Order Completed", user_id=f"user-{i % 1000}", properties=properties(i))
    await analytics.flush(close=True)


def instructions(events: int, plugin: str) -> int:
    """Total instructions of one run of this program under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "callgrind.out"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
               "benchmarks.callgrind_per_event", "--child", str(events), "--plugin", plugin]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": "0"}  # str hashes vary the count otherwise
        done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
        found = re.search(r"Collected : (\d+)", done.stderr)
        assert found, done.stderr[-2000:]
        return int(found.group(1))


def per_event(events: int, plugin: str) -> float:
    """Instructions per event: the difference of a run of 1,000 + `events` calls and one of 1,000."""
    small, large = 1_000, 1_000 + events
    return (instructions(large, plugin) - instructions(small, plugin)) / events


def main() -> None:
    """Report instructions per event."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--plugin", choices=list(PLUGINS), default="none")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        asyncio.run(run(args.child, args.plugin))
        return
    if shutil.which("valgrind") is None:
        sys.exit("callgrind_per_event: valgrind is not installed (apt-get install valgrind)")
    counted = per_event(args.events, args.plugin)
    print(f"plugin={args.plugin}: {counted:,.0f} instructions per event ({args.events:,} events)")


if __name__ == "__main__":
    main()
