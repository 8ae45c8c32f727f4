"""The bare floors: the same messages built by hand, orjson, aiohttp, 4 requests in flight, no library.

`streaming` (default) posts each batch of 100 as soon as it is built; `build-all` builds and serializes
every message first, then posts them (the least CPU a client can spend per event).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time

import aiohttp
import orjson

from benchmarks.clients.common import EVENT, USER_ID, Meter, args, properties

LIBRARY = {"name": "floor", "version": "0"}


_bits = random.Random(os.urandom(32)).getrandbits


def new_id() -> str:
    """A uuid4-format id, the cheapest correct way (random bits, version and variant set)."""
    n = (_bits(128) & ~(0xF000 << 64) & ~(0xC000 << 48)) | (0x4000 << 64) | (0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now() -> str:
    """The cheapest correct ISO 8601 UTC timestamp with milliseconds (measured against datetime)."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


async def main() -> None:
    events, url = args()
    meter = Meter()
    async with aiohttp.ClientSession() as session:
        slots = asyncio.Semaphore(4)
        tasks: set[asyncio.Task[None]] = set()

        async def post(body: bytes) -> None:
            try:
                async with session.post(f"{url}/v1/batch", data=body,
                                        headers={"Content-Type": "application/json"}) as response:  # fmt: skip
                    await response.read()
            finally:
                slots.release()

        async def send(batch: list[bytes]) -> None:
            body = (
                b'{"batch":[' + b",".join(batch) + b'],"writeKey":"bench","sentAt":"' + now().encode() + b'"}'
            )
            await slots.acquire()
            task = asyncio.create_task(post(body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        build_all = len(sys.argv) > 3 and sys.argv[3] == "build-all"
        built: list[bytes] = []
        batch: list[bytes] = []
        for i in range(events):
            message = {
                "type": "track", "event": EVENT, "properties": dict(properties(i)), "userId": USER_ID,
                "context": {"library": LIBRARY}, "integrations": {}, "timestamp": now(),
                "messageId": new_id(), "_metadata": {"pythonVersion": "3"},
            }  # fmt: skip
            if build_all:
                built.append(orjson.dumps(message))
                continue
            batch.append(orjson.dumps(message))
            if len(batch) == 100:
                await send(batch)
                batch = []
        meter.calls_done()
        for start in range(0, len(built), 100):
            await send(built[start : start + 100])
        if batch:
            await send(batch)
        while tasks:
            await asyncio.gather(*tasks)
    meter.report()


if __name__ == "__main__":
    asyncio.run(main())
