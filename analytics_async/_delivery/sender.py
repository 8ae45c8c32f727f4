"""Delivering one batch: build the body, make attempts through the HTTPClient, follow `retry`.

The events arrive already serialized; the body is assembled from their bytes, and only `sentAt`
(renewed per attempt, as Segment uses it to correct clock skew) is written anew for a retry.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from .._core.clock import sleep
from .._core.events import Emitter, HTTPRequestEvent, HTTPResponseEvent
from .._core.http_client import HTTPClient, HTTPRequest, redact_headers
from .._core.logs import RateLimitedLog
from .._core.settings import Settings
from .._core.stats import Counters
from .._core.user import is_our_cancellation
from .._message.build import now_iso
from .._version import __version__
from ..errors import AnalyticsError, AuthError, RateLimitExceededError, TransportError
from . import retry
from .oauth import TokenManager

__all__ = ["Sender"]

logger = logging.getLogger("analytics_async")

CLIENT_GRACE = 1.0
"""Seconds past `http_request_timeout` before an attempt is cut off whatever the HTTPClient does."""

E = TypeVar("E", bound=AnalyticsError)

USER_AGENT: Final = f"analytics-async/{__version__}"
_REDACTED_KEY: Final = b'"<redacted>"'
_TOKEN_REFUSED: Final = frozenset({400, 401, 403, 511})
"""Tracking API answers after which the OAuth token is dropped and a new one fetched."""


class Sender:
    """Sends the batches of one `Analytics`; the rate-limit gate is the only state they share."""

    def __init__(  # noqa: PLR0917
        self,
        settings: Settings,
        http: HTTPClient,
        emitter: Emitter,
        counters: Counters,
        tokens: TokenManager | None = None,
        random_source: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._http = http
        self._emitter = emitter
        self._counters = counters
        self._random = random_source
        self._tokens = tokens
        self.gate = retry.RateLimitGate()
        self.last_failure: str | None = None
        """What the latest failed attempt ran into (status or transport cause), for timeout reasons."""
        self.retry_log = RateLimitedLog()
        self._budget = retry.RetryBudget(
            settings.max_retries, settings.max_total_backoff_duration, oauth=tokens is not None
        )
        self._key_json = json.dumps(settings.write_key).encode()
        token = base64.b64encode(f"{settings.write_key}:".encode()).decode()
        self._secrets: deque[str] = deque([settings.write_key, token], maxlen=6)
        """What no error may show: the write key, its Basic token, recent bearer tokens."""
        self._headers: Final = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Basic {token}",
        }
        if settings.gzip:
            self._headers["Content-Encoding"] = "gzip"

    def after_fork(self) -> None:
        """In a forked child: start without the parent's rate-limit state."""
        self.gate = retry.RateLimitGate()

    @property
    def key_json_bytes(self) -> int:
        """Length of the write key as it appears in the body (for the batch byte budget)."""
        return len(self._key_json)

    async def deliver(self, payloads: Sequence[bytes]) -> AnalyticsError | None:
        """Send one batch until it is delivered (None) or finally fails (the reason).

        Cancellation (a closing flush out of time) propagates at once, from an attempt, a backoff
        sleep or the rate-limit gate.
        """
        clock = self._settings.clock
        events = b'{"batch":[' + b",".join(payloads) + b'],"writeKey":'
        attempts = retry.Attempts()
        while True:
            try:
                await self._pass_gate()
                authorization = None
                if self._tokens is not None:  # the token manager retries as far as it may
                    token = await self._tokens.get()
                    self._secrets.append(token)
                    authorization = f"Bearer {token}"
            except (RateLimitExceededError, AuthError) as exc:
                self._counters.batches_sent += 1
                return self._fresh(exc)
            attempts.made += 1
            request = self._request(events, attempts.made, authorization)
            debug = logger.isEnabledFor(logging.DEBUG)
            if debug:  # sizes and counts only: never the body, the key or a token
                logger.debug("analytics_async: POST %s: %d events, %d bytes, attempt %d", request.url,
                             len(payloads), len(request.body), attempts.made)  # fmt: skip
            answer = await self._attempt(request)
            if debug:
                outcome = answer.outcome
                logger.debug("analytics_async: %s", f"answered {outcome} {answer.reason}".rstrip()
                             if isinstance(outcome, int) else f"no answer: {outcome}")  # fmt: skip
            if self._tokens is not None and answer.outcome in _TOKEN_REFUSED:
                self._tokens.clear()
            now = clock.time()
            decision = retry.decide(answer, attempts, self._budget, now=now, random=self._random())
            self.last_failure = None if decision.error is None else str(decision.error)
            if decision.delivered:
                self.gate.clear()
            if decision.delay is None:
                self._counters.batches_sent += 1
                return decision.error
            self._counters.retries += 1
            attempts.record(decision, now)
            if decision.rate_limit is not None:
                self.gate.limit(now, decision.rate_limit)
            if decision.counted:
                self.retry_log.line(
                    f"sending {len(payloads):,} events failed ({decision.error}); "
                    f"retry {attempts.retries} of {self._budget.max_retries}"
                )
                await sleep(clock, decision.delay)

    def _fresh(self, error: E) -> E:
        """`error` as users get it: a new error of its kind, with every secret masked in its message.

        The new error has no traceback, cause or context: those reference requests, headers and token
        responses.
        """
        text = str(error)
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return type(error)(text)

    async def _pass_gate(self) -> None:
        """Wait while the instance is rate limited (shared by all batches)."""
        clock = self._settings.clock
        while wait := self.gate.wait(clock.time(), self._settings.max_rate_limit_duration):
            await sleep(clock, wait)

    def _request(self, events: bytes, attempt: int, authorization: str | None) -> HTTPRequest:
        """Attempt number `attempt` (from 1): a fresh `sentAt`, and `X-Retry-Count` after the first."""
        settings = self._settings
        tail = b',"sentAt":"' + now_iso().encode() + b'"}'
        body = events + self._key_json + tail
        headers = dict(self._headers)
        if authorization is not None:
            headers["Authorization"] = authorization
        if attempt > 1:
            headers["X-Retry-Count"] = str(attempt - 1)
        if self._emitter.listens("http_request"):
            self._emitter.emit(
                "http_request",
                HTTPRequestEvent(
                    settings.url, "POST", redact_headers(headers), events + _REDACTED_KEY + tail
                ),
            )
        if settings.gzip:
            import gzip  # noqa: PLC0415 - only gzip=True pays for it

            body = gzip.compress(body, compresslevel=6)
        return HTTPRequest(settings.url, "POST", headers, body, settings.http_request_timeout)

    async def _attempt(self, request: HTTPRequest) -> retry.Answer:
        """One HTTP attempt, bounded by the request timeout whatever the client does.

        With a grace second: a client that keeps its own timeout (the default one does) answers
        first, so an answer whose status line came just in time is not cut off as "no response".
        """
        try:
            async with asyncio.timeout(request.timeout + CLIENT_GRACE):
                response = await self._http.send(request)
        except TimeoutError:
            return retry.Answer(TransportError(f"no response within {request.timeout:g} s"))
        except BaseException as exc:  # a custom HTTPClient may raise anything: no answer came
            if is_our_cancellation(exc):
                raise
            failure = (
                exc if isinstance(exc, TransportError) else TransportError(f"{type(exc).__name__}: {exc}")
            )
            return retry.Answer(self._fresh(failure))
        if self._emitter.listens("http_response"):
            self._emitter.emit(
                "http_response",
                HTTPResponseEvent(request.url, response.status, redact_headers(response.headers)),
            )
        headers = response.headers
        retry_after = retry.parse_retry_after(headers.get("Retry-After"), time.time())
        return retry.Answer(response.status, response.reason, retry_after, headers.get("Location"))
