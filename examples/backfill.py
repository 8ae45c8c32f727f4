"""Import historical events from a JSON-lines file, keeping their original timestamps.

    python examples/backfill.py events.jsonl --host http://127.0.0.1:8080 --write-key KEY

Each line: {"user_id": "...", "event": "...", "timestamp": "2024-05-01T12:00:00Z", "properties": {...}}.
`queue_full="wait"` makes the loop wait for the sender instead of dropping: nothing is lost, however
fast the file is read. Prints progress and a summary; exit code 1 if any event failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from analytics_async import Analytics


async def backfill(path: Path, *, write_key: str, host: str, progress_every: int = 10_000) -> dict[str, int]:
    """Send every event of `path`; return counts of sent, delivered and failed events."""
    analytics = Analytics(write_key=write_key, host=host, flush_at=500, queue_full="wait", max_in_flight=4)
    sent = 0
    started = time.monotonic()
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            await analytics.track(
                event=row["event"],
                user_id=row["user_id"],
                timestamp=datetime.fromisoformat(row["timestamp"]),
                properties=row.get("properties"),
                message_id=row.get("message_id"),  # stable ids make a re-run deduplicate at Segment
            )
            sent += 1
            if sent % progress_every == 0:
                rate = sent / (time.monotonic() - started)
                print(f"{sent} events queued ({rate:,.0f}/s)", flush=True)
    await analytics.flush(close=True, timeout=120)
    stats = analytics.stats()
    failed = sum(stats.failed.values()) + sum(stats.dropped.values())
    elapsed = time.monotonic() - started
    print(f"done: {sent} sent, {stats.delivered} delivered, {failed} failed in {elapsed:.1f} s", flush=True)
    return {"sent": sent, "delivered": stats.delivered, "failed": failed}


def main() -> int:
    """Parse arguments and run the backfill."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--host", default="https://api.segment.io")
    parser.add_argument("--write-key", default=os.environ.get("SEGMENT_WRITE_KEY"))
    args = parser.parse_args()
    if not args.write_key:
        parser.error("--write-key or SEGMENT_WRITE_KEY is required")
    counts = asyncio.run(backfill(args.file, write_key=args.write_key, host=args.host))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
