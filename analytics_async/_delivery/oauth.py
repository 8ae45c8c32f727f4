"""OAuth 2.0 for the Tracking API: a JWT client assertion exchanged for a bearer token.

pyjwt and cryptography are imported only when OAuth is configured, so users without OAuth never pay
for them (about 150 ms at import). One token acquisition is in flight at a time, shared by every
waiting batch; the token is refreshed in the background at half its lifetime, on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode, urlsplit

import attrs

from .._core import fork
from .._core.clock import Clock, TimerHandle, sleep
from .._core.http_client import HTTPClient, HTTPRequest, HTTPResponse
from ..errors import AuthError, ConfigError
from .retry import MAX_RETRY_AFTER, backoff, parse_retry_after

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = ["OAuthSettings", "TokenManager", "load_private_key"]

logger = logging.getLogger("analytics_async")

TOKEN_REQUEST_TIMEOUT: Final = 10.0
DEFAULT_429_WAIT: Final = 5.0
TOKEN_BACKOFF_BASE: Final = 0.1
_FINAL_STATUSES: Final = frozenset({400, 401, 415})
_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@attrs.frozen(kw_only=True)
class OAuthSettings:
    """OAuth 2.0 settings: `client_key` is the PEM RSA private key (PKCS#8 or PKCS#1), never shown.

    `max_retries` defaults to the Analytics `max_retries`; `http_client` to the Analytics one.
    """

    client_id: str
    client_key: str = attrs.field(repr=False)
    key_id: str
    auth_server: str = "https://oauth2.segment.io"
    scope: str = "tracking_api:write"
    max_retries: int | None = None
    http_client: HTTPClient | None = None


def validate(settings: object, default_max_retries: int) -> tuple[OAuthSettings, RSAPrivateKey, int]:
    """Check OAuth settings and load the key; raise ConfigError naming what is wrong."""
    if not isinstance(settings, OAuthSettings):
        raise ConfigError("oauth_settings", f"must be an OAuthSettings, not {type(settings).__name__}")
    for name in ("client_id", "key_id", "scope"):
        value = getattr(settings, name)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"oauth_settings.{name}", "must be a non-empty str")
    parts = urlsplit(settings.auth_server) if isinstance(settings.auth_server, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            "oauth_settings.auth_server", f"must be an http(s) URL, not {settings.auth_server!r}"
        )
    max_retries = default_max_retries if settings.max_retries is None else settings.max_retries
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError("oauth_settings.max_retries", f"must be an int >= 0, not {max_retries!r}")
    attempts = max(1, max_retries)  # the token manager counts attempts: 0 retries still asks once
    if settings.http_client is not None and not isinstance(settings.http_client, HTTPClient):
        raise ConfigError("oauth_settings.http_client", "must have async send(request) and aclose() methods")
    try:
        import cryptography  # noqa: F401, PLC0415 - the extra's presence, checked at construction
        import jwt  # noqa: F401, PLC0415
    except ImportError:
        raise ConfigError(
            "oauth_settings", "needs the oauth extra: python -m pip install 'analytics-async[oauth]'"
        ) from None
    return settings, load_private_key(settings.client_key), attempts


def load_private_key(pem: object) -> RSAPrivateKey:
    """Load an unencrypted PEM RSA private key (PKCS#8 or PKCS#1), or raise ConfigError."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import load_pem_private_key  # noqa: PLC0415

    if not isinstance(pem, str | bytes) or not pem:
        raise ConfigError("oauth_settings.client_key", "must be a PEM RSA private key (str)")
    try:
        key = load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    except (ValueError, TypeError, UnicodeError):
        key = None  # the library's error may quote the key: raised below, outside this block, unchained
    if key is None:
        raise ConfigError(
            "oauth_settings.client_key",
            "is not a usable PEM private key (PKCS#8 'BEGIN PRIVATE KEY' or PKCS#1 'BEGIN RSA PRIVATE KEY', "
            "unencrypted)",
        )
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError("oauth_settings.client_key", f"must be an RSA key, not {type(key).__name__}")
    return key


class TokenManager:
    """Obtains and caches the access token; one acquisition in flight, shared by all waiters.

    Times on `clock` drive expiry and the half-life refresh; the JWT's `iat`/`exp` use wall time
    corrected by the skew measured from the token server's `Date` header.
    """

    def __init__(
        self,
        settings: OAuthSettings,
        key: RSAPrivateKey,
        http: HTTPClient,
        clock: Clock,
        max_retries: int,
    ) -> None:
        self._settings = settings
        self._key = key
        self._http = http
        self._clock = clock
        self._max_retries = max_retries
        self._server = settings.auth_server.rstrip("/")
        self._token: str | None = None
        self._expires_at = 0.0
        self._skew = 0.0
        self._inflight: asyncio.Task[str] | None = None
        self._refresh_timer: TimerHandle | None = None
        self.requests = 0
        """Token requests made (for tests and diagnostics)."""

    def __repr__(self) -> str:
        return f"<TokenManager {self._server} token={'set' if self._token else 'none'}>"

    async def get(self) -> str:
        """The current access token, acquiring one if needed.

        Raises:
            AuthError: no token could be obtained (final answer, malformed response, or retries used up).
        """
        if self._token is not None and self._clock.time() < self._expires_at:
            return self._token
        task = self._inflight
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            task = self._start()
        return await asyncio.shield(task)

    def clear(self) -> None:
        """Forget the token (the Tracking API refused it); the next send acquires a new one."""
        self._token = None

    def after_fork(self) -> None:
        """In a forked child: the parent's token, acquisition and refresh timer stay the parent's."""
        fork.ABANDONED.append((self._inflight, self._refresh_timer))
        self._token = None
        self._inflight = None
        self._refresh_timer = None

    async def aclose(self) -> None:
        """Stop the refresh timer and any acquisition in flight."""
        if self._refresh_timer is not None:
            self._refresh_timer.cancel()
            self._refresh_timer = None
        task, self._inflight = self._inflight, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _start(self) -> asyncio.Task[str]:
        task = self._inflight = asyncio.get_running_loop().create_task(self._acquire())
        task.add_done_callback(self._acquired)
        return task

    def _acquired(self, task: asyncio.Task[str]) -> None:
        if self._inflight is task:
            self._inflight = None
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.warning("analytics_async: OAuth token not obtained: %s", exc)

    def _refresh(self) -> None:
        """Half the token's lifetime has passed: acquire a new one in the background."""
        self._refresh_timer = None
        if self._inflight is None:
            self._start()

    async def _acquire(self) -> str:
        failures = 0
        while True:
            wait: float | None = None
            try:
                response = await self._request()
            except AuthError:
                raise
            except Exception as exc:  # noqa: BLE001 - any transport failure is retried
                error = AuthError(f"token request failed: {type(exc).__name__}: {exc}")
            else:
                if response.status == 200:
                    return self._accept(response)
                error = AuthError(f"token request answered [{response.status}] {response.reason}")
                if response.status in _FINAL_STATUSES:
                    raise error
                if response.status == 429:
                    after = parse_retry_after(response.headers.get("Retry-After"), time.time())
                    wait = min(DEFAULT_429_WAIT if after is None else after, MAX_RETRY_AFTER)
            failures += 1
            if failures >= self._max_retries:
                raise error
            if wait is None:
                wait = (
                    0.0 if failures == 1 else backoff(failures - 1, random.random(), base=TOKEN_BACKOFF_BASE)  # noqa: S311
                )
            await sleep(self._clock, wait)

    async def _request(self) -> HTTPResponse:
        self.requests += 1
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_assertion_type": _ASSERTION_TYPE,
                "client_assertion": self._assertion(),
                "scope": self._settings.scope,
            }
        ).encode()
        request = HTTPRequest(
            f"{self._server}/token",
            "POST",
            {"Content-Type": "application/x-www-form-urlencoded"},
            form,
            TOKEN_REQUEST_TIMEOUT,
        )
        async with asyncio.timeout(TOKEN_REQUEST_TIMEOUT):
            response = await self._http.send(request)
        if (date := response.headers.get("Date")) is not None:
            from email.utils import parsedate_to_datetime  # noqa: PLC0415 - only OAuth users pay for it

            with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
                self._skew = time.time() - parsedate_to_datetime(date).timestamp()
        return response

    def _assertion(self) -> str:
        import jwt  # noqa: PLC0415 - only OAuth users pay for pyjwt

        now = time.time() - self._skew
        settings = self._settings
        claims = {
            "iss": settings.client_id,
            "sub": settings.client_id,
            "aud": self._server,
            "iat": int(now) - 5,
            "exp": int(now) + 55,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(
            claims, self._key, algorithm="RS256", headers={"kid": settings.key_id, "typ": "JWT"}
        )

    def _accept(self, response: HTTPResponse) -> str:
        if response.text is None:
            raise AuthError("the HTTP client returned no body for the token response")
        try:
            body: Any = json.loads(response.text)
        except ValueError as exc:
            raise AuthError("the token response is not JSON") from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        if (
            not isinstance(token, str)
            or not token
            or isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or expires_in <= 0
        ):
            raise AuthError("the token response did not contain a valid access_token and expires_in")
        now = self._clock.time()
        self._token, self._expires_at = token, now + expires_in
        if self._refresh_timer is not None:
            self._refresh_timer.cancel()
        self._refresh_timer = self._clock.call_at(now + expires_in / 2, self._refresh)
        return token
