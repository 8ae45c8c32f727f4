"""analytics-async: `tuned` (flush_at=100) or `defaults` (write_key and host only), other settings default."""

from __future__ import annotations

import asyncio
import sys

# aiohttp is loaded before measuring, as every contender's HTTP library is (the library imports it
# lazily on the first send; import time is measured on its own).
import aiohttp  # noqa: F401

from analytics_async import Analytics
from benchmarks.clients.common import EVENT, USER_ID, Meter, args, properties


async def main() -> None:
    events, url = args()
    meter = Meter()
    tuned = len(sys.argv) <= 3 or sys.argv[3] != "defaults"
    analytics = (
        Analytics(write_key="bench", host=url, flush_at=100)
        if tuned
        else Analytics(write_key="bench", host=url)
    )
    for i in range(events):
        await analytics.track(event=EVENT, user_id=USER_ID, properties=properties(i))
    meter.calls_done()
    await analytics.flush(close=True, timeout=600)
    stats = analytics.stats()
    meter.report(failed=sum(stats.failed.values()) + sum(stats.dropped.values()))


if __name__ == "__main__":
    asyncio.run(main())
