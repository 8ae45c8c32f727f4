"""The HTTP client's DNS resolver: aiohttp's default, still working while the interpreter exits.

Imported with aiohttp, at the first request. See `_core.exitsafe` for why executors refuse work at exit.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, cast

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

__all__ = ["ExitSafeResolver"]


class _InlineLookups:
    """The two look-ups `ThreadedResolver` asks of its loop, done in the calling thread."""

    async def getaddrinfo(
        self,
        host: str,
        port: int,
        *,
        family: int = 0,
        type: int = 0,  # noqa: A002 - the name asyncio's getaddrinfo uses
        proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        return socket.getaddrinfo(host, port, family, type, proto, flags)

    async def getnameinfo(self, sockaddr: tuple[Any, ...], flags: int = 0) -> tuple[str, str]:
        return socket.getnameinfo(sockaddr, flags)


class ExitSafeResolver(ThreadedResolver):
    """aiohttp's default resolver (getaddrinfo in the loop's executor), inline at interpreter exit."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve `host` as `ThreadedResolver` does; inline once executors refuse work."""
        try:
            return await super().resolve(host, port, family)
        except RuntimeError:  # the interpreter is exiting (see _exitsafe)
            inline = ThreadedResolver(cast("asyncio.AbstractEventLoop", _InlineLookups()))
            return await inline.resolve(host, port, family)
