"""Delivering one batch: build the body, make attempts through the HTTPClient, follow `_retry`.

The events arrive already serialized; the body is assembled from their bytes, and only `sentAt`
(renewed per attempt, as Segment uses it to correct clock skew) is written anew for a retry.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import random
from collections.abc import Callable, Sequence
from typing import Final

from . import _retry
from ._clock import sleep
from ._events import Emitter, HTTPRequestEvent, HTTPResponseEvent
from ._http import HTTPClient, HTTPRequest, redact_headers
from ._message import now_iso
from ._settings import Settings
from ._stats import Counters
from ._version import __version__
from .errors import DeliveryError, TransportError

__all__ = ["Sender"]

logger = logging.getLogger("analytics_async")

USER_AGENT: Final = f"analytics-async/{__version__}"
_REDACTED_KEY: Final = b'"<redacted>"'


class Sender:
    """Sends batches for one `Analytics`; stateless between batches."""

    def __init__(
        self,
        settings: Settings,
        http: HTTPClient,
        emitter: Emitter,
        counters: Counters,
        random_source: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._http = http
        self._emitter = emitter
        self._counters = counters
        self._random = random_source
        self._key_json = json.dumps(settings.write_key).encode()
        token = base64.b64encode(f"{settings.write_key}:".encode()).decode()
        self._headers: Final = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Basic {token}",
        }
        if settings.gzip:
            self._headers["Content-Encoding"] = "gzip"

    @property
    def key_json_bytes(self) -> int:
        """Length of the write key as it appears in the body (for the batch byte budget)."""
        return len(self._key_json)

    async def deliver(self, payloads: Sequence[bytes]) -> DeliveryError | None:
        """Send one batch until it is delivered (None) or finally fails (the reason).

        Cancellation (a closing flush out of time) propagates at once, from an attempt or a sleep.
        """
        settings = self._settings
        events = b'{"batch":[' + b",".join(payloads) + b'],"writeKey":'
        retries = 0
        while True:
            tail = b',"sentAt":"' + now_iso().encode() + b'"}'
            body = events + self._key_json + tail
            headers = dict(self._headers)
            if retries:
                headers["X-Retry-Count"] = str(retries)
            if self._emitter.listens("http_request"):
                self._emitter.emit(
                    "http_request",
                    HTTPRequestEvent(
                        settings.url, "POST", redact_headers(headers), events + _REDACTED_KEY + tail
                    ),
                )
            if settings.gzip:
                body = gzip.compress(body, compresslevel=6)
            request = HTTPRequest(settings.url, "POST", headers, body, settings.http_request_timeout)
            outcome, reason, location = await self._attempt(request)
            decision = _retry.decide(
                outcome,
                reason=reason,
                retries_done=retries,
                max_retries=settings.max_retries,
                random=self._random(),
                location=location,
            )
            if decision.delay is None:
                self._counters.batches_sent += 1
                return None if decision.delivered else decision.error
            retries += 1
            self._counters.retries += 1
            logger.debug(
                "analytics_async: retry %d in %.2fs after %s",
                retries,
                decision.delay,
                decision.error,
            )
            await sleep(settings.clock, decision.delay)

    async def _attempt(self, request: HTTPRequest) -> tuple[_retry.Outcome, str, str | None]:
        """One HTTP attempt, bounded by the request timeout whatever the client does."""
        try:
            async with asyncio.timeout(request.timeout):
                response = await self._http.send(request)
        except TransportError as exc:
            return exc, "", None
        except TimeoutError:
            return TransportError(f"no response within {request.timeout:g} s"), "", None
        except Exception as exc:  # noqa: BLE001 - a custom HTTPClient may raise anything: no answer came
            error = TransportError(f"{type(exc).__name__}: {exc}")
            error.__cause__ = exc
            return error, "", None
        if self._emitter.listens("http_response"):
            self._emitter.emit(
                "http_response",
                HTTPResponseEvent(request.url, response.status, redact_headers(response.headers)),
            )
        return response.status, response.reason, response.headers.get("Location")
