"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from analytics_async.testing import Responder


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `condition()` holds: for effects that cross the loopback network, not for timing."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.002)


def statuses(*codes: int, then: int = 200, headers: dict[str, str] | None = None) -> Responder:
    """A responder answering the given statuses in order, then `then` (200 lets the sink record)."""

    async def respond(request: web.Request, n: int) -> web.StreamResponse | None:
        status = codes[n - 1] if n <= len(codes) else then
        if status == 200:
            return None
        await request.read()
        return web.Response(status=status, headers=headers)

    return respond


def our_tasks() -> list[asyncio.Task[object]]:
    """Tasks of the library still alive in this loop (the batcher and batch sends)."""
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and ("analytics_async" in t.get_name() or "_send" in repr(t.get_coro()))
    ]
