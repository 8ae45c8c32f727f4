"""Ending the library's own background tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel those of `tasks` that run in this loop and wait until each has finished.

    Tasks of a loop that has ended are skipped: they cannot run again.
    """
    loop = asyncio.get_running_loop()
    mine = [task for task in tasks if task.get_loop() is loop]
    for task in mine:
        task.cancel()
    await asyncio.gather(*mine, return_exceptions=True)
