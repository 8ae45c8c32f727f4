"""Blocking work (DNS look-ups, the spool's file) that must still run while the interpreter exits.

At exit, `concurrent.futures` shuts every thread pool down before `atexit` hooks run: a loop's
executor then refuses new work ("cannot schedule new futures after interpreter shutdown"; importing
the pool first at that point fails with "can't register atexit after shutdown"; Python 3.12.1 cannot
start a thread at all). The drop-in's exit hook and a user's own exit-time flush still have to
resolve the API's host name and may write the spool: there, the work runs inline in the event loop's
thread. Blocking that thread is harmless then (the process is ending), and only then does it happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

__all__ = ["run_blocking"]

T = TypeVar("T")


def run_blocking(fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """`fn(*args)` in the running loop's default executor, or inline once executors refuse work."""
    loop = asyncio.get_running_loop()
    try:
        return loop.run_in_executor(None, fn, *args)
    except RuntimeError:  # the interpreter is exiting
        future: asyncio.Future[T] = loop.create_future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - handed to whoever awaits the future
            future.set_exception(exc)
        return future
