"""The default HTTPClient, on one `aiohttp.ClientSession` (keep-alive) per event loop.

aiohttp's exceptions are translated to `TransportError` here and nowhere else. aiohttp itself is
imported on the first request, not with the package: it is half of `import analytics_async`'s time
(about 200 ms), which a Lambda cold start or a CLI should not pay before it sends anything.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from .._core import fork
from .._core.http_client import HTTPRequest, HTTPResponse
from ..errors import CertificateError, TransportError
from .trust import default_context

if TYPE_CHECKING:
    import aiohttp

__all__ = ["BODY_PREFIX", "AiohttpClient", "certificate_failure", "describe", "env_proxy", "preload"]

BODY_WAIT: Final = 1.0
"""Seconds the body of an answer is waited for once its status line arrived (the status decides)."""
BODY_PREFIX: Final = 4096
"""Bytes of a response body read at most, for the reason text (a 200 MB error page stays unread)."""


def preload() -> None:
    """Import aiohttp now, in the calling thread, instead of at the first request.

    For the sync drop-in, constructed once at an app's start: in its loop thread the import would
    hold the GIL for about 150 ms while the first calls pile up (a burst then finds a full queue).
    """
    import aiohttp  # noqa: F401, PLC0415

    from . import resolver  # noqa: F401, PLC0415 - imports aiohttp's resolver


class AiohttpClient:
    """Sends requests through an aiohttp session created lazily in the running loop.

    The session is bound to the loop that created it; used from a new loop (consecutive
    `asyncio.run()` calls), the client opens a new session there. Redirects are never followed:
    a 3xx answer is returned as it is. `proxy` (an http(s) URL) routes every request through that proxy;
    without it, `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` from the environment apply, as in the
    official SDK (which uses requests).
    """

    def __init__(self, proxy: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self._proxy = proxy
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._env_proxies: dict[tuple[str | None, ...], str | None] = {}

    def _session_for_loop(self) -> aiohttp.ClientSession:
        import aiohttp  # noqa: PLC0415 - deferred to the first request (see the module docstring)

        from .resolver import ExitSafeResolver  # noqa: PLC0415 - imports aiohttp

        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._loop is not loop:
            # The old session's loop is gone (closed) or it was closed by aclose(); a session
            # cannot move between loops, so this loop gets its own.
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=64, enable_cleanup_closed=False, resolver=ExitSafeResolver(loop)
                ),
                auto_decompress=True,
                # Not trust_env: aiohttp would then look up netrc and proxies in a thread for every
                # request (which also fails once the interpreter is exiting); see env_proxy.
                trust_env=False,
            )
            self._loop = loop
        return session

    def _env_proxy(self, url: str) -> str | None:
        """`env_proxy(url)`, worked out again only when a proxy variable changed.

        urllib's lookup scans the whole environment (about 60 us a request); reading the few
        variables it would use costs a microsecond or two.
        """
        environ = os.environ
        key = (url, *(environ.get(name) for name in _PROXY_VARIABLES))
        try:
            return self._env_proxies[key]
        except KeyError:
            if len(self._env_proxies) > _PROXY_CACHE:
                self._env_proxies.clear()
            proxy = self._env_proxies[key] = env_proxy(url)
            return proxy

    def after_fork(self) -> None:
        """In a forked child: the parent's session and its connections stay the parent's, unused."""
        fork.ABANDONED.append(self._session)
        self._session = None
        self._loop = None

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """POST `request` and return the answer; network failures raise TransportError.

        Only the first `BODY_PREFIX` bytes of any response body are read (the reason text); the rest is
        never buffered. Once a status line has arrived the answer stands, even if the body is cut off.
        The TransportError carries a description of the cause, never the aiohttp exception itself,
        whose request information holds the Authorization header.
        """
        import aiohttp  # noqa: PLC0415 - already loaded by _session_for_loop; a dict lookup

        session = self._session_for_loop()
        try:
            async with session.request(
                request.method,
                request.url,
                data=request.body,
                headers=dict(request.headers),
                allow_redirects=False,
                proxy=self._proxy or self._env_proxy(request.url),
                ssl=self._ssl or default_context() or True,
                timeout=aiohttp.ClientTimeout(total=request.timeout),
            ) as response:
                return HTTPResponse(
                    status=response.status,
                    reason=response.reason or "",
                    headers=dict(response.headers),
                    text=await _body_prefix(response),
                )
        except TimeoutError:
            failure = f"no response within {request.timeout:g} s"
        except aiohttp.ClientConnectorCertificateError as exc:
            failure = certificate_failure(exc.host, exc.port, exc.certificate_error)
            raise CertificateError(failure) from None  # final: retrying cannot make it trusted
        except (aiohttp.ClientError, OSError) as exc:
            failure = describe(exc)
        raise TransportError(failure)  # outside the except block: no chain to aiohttp's request info

    async def aclose(self) -> None:
        """Close the session of the running loop, if any; the client may be used again later."""
        session, self._session = self._session, None
        loop, self._loop = self._loop, None
        if session is None or session.closed or loop is not asyncio.get_running_loop():
            return
        # Close the connector now (its transports close at once) and mark the session closed before
        # awaiting anything: a deadline cancelling the wait below leaves nothing open behind.
        connector = session.connector
        session.detach()
        if connector is not None:
            await connector.close()


async def _body_prefix(response: aiohttp.ClientResponse) -> str | None:
    """The first `BODY_PREFIX` bytes of the body as text; None if it could not be read in time.

    Once the status line has arrived the answer stands: a body that stalls (at most `BODY_WAIT`
    seconds), is cut off, or is garbage cannot turn an accepted batch into a failure.
    """
    import aiohttp  # noqa: PLC0415

    try:
        async with asyncio.timeout(BODY_WAIT):
            data = await response.content.read(BODY_PREFIX)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):  # cut off after the status line
        return None
    return data.decode("utf-8", errors="replace")


def certificate_failure(host: str, port: int | None, error: BaseException) -> str:
    """One line: certificate verification, the host, OpenSSL's reason, and what to change."""
    reason = getattr(error, "verify_message", None) or getattr(error, "reason", None) or str(error)
    return (
        f"certificate verification failed for {host}:{port}: {reason} (trust its CA with ssl= or "
        "SSL_CERT_FILE; see docs/configuration.md#tls)"
    )


def describe(exc: BaseException) -> str:
    """`Type: message` of a transport failure, with its root cause when that says more."""
    text = f"{type(exc).__name__}: {exc}"
    root, seen = exc, {id(exc)}
    while (inner := root.__cause__ or root.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        root = inner
    if root is not exc and str(root) and str(root) not in text:
        text += f" (caused by {type(root).__name__}: {root})"
    return text


_PROXY_VARIABLES: Final = tuple(
    f(name) for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "request_method")
    for f in (str.lower, str.upper)
)  # fmt: skip
"""What urllib's proxy lookup reads (REQUEST_METHOD: it ignores HTTP_PROXY under CGI)."""
_PROXY_CACHE: Final = 64


def env_proxy(url: str) -> str | None:
    """The proxy `HTTPS_PROXY` / `HTTP_PROXY` name for `url`, unless `NO_PROXY` exempts its host."""
    import urllib.request  # noqa: PLC0415 - 26 ms of imports (http.client, email, tempfile): at first use

    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):  # reads NO_PROXY
        return None
    return proxy
