"""Run by tests/test_fork.py: a parent with events queued forks; each side sends; print what arrived.

Prints one JSON line: the events the sink received and the child's stats.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading

from analytics_async import Analytics
from analytics_async.testing import SegmentSink


def main() -> None:
    """Queue 3 events in the parent, fork, send one from the child, then flush the parent."""
    sink = SegmentSink()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(sink.start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    assert ready.wait(5)
    analytics = Analytics(write_key="k", host=sink.url, flush_interval=3600)

    async def queue(n: int) -> None:
        for i in range(n):
            await analytics.track(event=f"parent{i}", user_id="u")

    asyncio.run(queue(3))  # queued, unsent: the loop ends before the interval
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:

        async def child() -> dict[str, int]:
            stats_at_start = analytics.stats()
            await analytics.track(event="child", user_id="u")
            await analytics.flush(close=True, timeout=5)
            return {"accepted_at_start": stats_at_start.accepted, "delivered": analytics.stats().delivered}

        os.write(write, json.dumps(asyncio.run(child())).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    child_stats = json.loads(os.read(read, 4096))
    asyncio.run(analytics.flush(close=True, timeout=5))
    events = [e["event"] for e in sink.events]
    sys.stdout.write(json.dumps({"events": events, "child": child_stats, "child_exit": status}) + "\n")


if __name__ == "__main__":
    main()
