"""Pure delivery decisions: is an answer a success, a final failure, or worth another attempt?

Nothing here does I/O or reads a clock: the sender passes in what happened and the time, and gets a
decision back (analytics-node-behavior.md §8 and §9, with the changes of DECISIONS.md).
"""

from __future__ import annotations

import math
import re
from email.utils import parsedate_to_datetime
from typing import Final

import attrs

from .errors import DeliveryError, HTTPStatusError, RateLimitExceededError, TransportError

__all__ = [
    "Decision",
    "Outcome",
    "RateLimitGate",
    "backoff",
    "classify",
    "decide",
    "parse_retry_after",
]

BACKOFF_BASE: Final = 0.5
BACKOFF_FACTOR: Final = 2.0
BACKOFF_CAP: Final = 60.0
MAX_RETRY_AFTER: Final = 300.0
"""A Retry-After above this many seconds is capped to it."""
MIN_RATE_LIMIT_WAIT: Final = 1.0
"""Even `Retry-After: 0` pauses sending this long."""
EXTRA_ATTEMPTS: Final = 20
"""Attempts a batch may make beyond `max_retries` (uncounted 429 retries included), as node."""
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_RETRIED_4XX: Final = frozenset({408, 410, 429, 460})
_FINAL_5XX: Final = frozenset({501, 505})
_LEADING_INT: Final = re.compile(r"\s*([+-]?\d+)")

Outcome = int | TransportError
"""What one attempt produced: an HTTP status, or the transport failure that prevented one."""


@attrs.frozen
class Decision:
    """The verdict on one attempt.

    Delivered; or give up with `error` (`delay` is None); or retry after `delay` seconds, `counted`
    against `max_retries` (backoff) or not (a 429 with Retry-After, whose wait is `rate_limit`).
    """

    delivered: bool = False
    delay: float | None = None
    error: DeliveryError | None = None
    counted: bool = False
    rate_limit: float | None = None


DELIVERED: Final = Decision(delivered=True)


def classify(status: int, *, oauth: bool = False) -> bool | None:
    """Return True for success, False for a final failure, None when the status is retried."""
    if status in _REDIRECTS:
        return False
    if 200 <= status < 400:
        return True
    if 400 <= status < 500:
        return None if status in _RETRIED_4XX else False
    if 500 <= status < 600:
        if status in _FINAL_5XX or (status == 511 and not oauth):
            return False
        return None
    return None  # below 200 or from 600: nothing sensible was said, try again


def backoff(retry: int, random: float, base: float = BACKOFF_BASE) -> float:
    """Seconds to wait before counted retry number `retry` (1 for the first); `random` in [0, 1)."""
    return min((1.0 + random) * base * BACKOFF_FACTOR**retry, BACKOFF_CAP)


def parse_retry_after(value: str | None, wall_now: float) -> float | None:
    """Seconds a `Retry-After` value asks for, capped at 300; None when absent or unusable.

    Integer seconds are read like JavaScript's `parseInt` (`"1.5"` is 1, `"2abc"` is 2); an HTTP-date
    is measured from `wall_now` (Unix seconds). Negative values mean no usable header.
    """
    if value is None:
        return None
    if match := _LEADING_INT.match(value):
        seconds = float(int(match.group(1)))
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - wall_now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = max(0.0, math.ceil(seconds))
    if seconds < 0 or math.isnan(seconds):
        return None
    return min(seconds, MAX_RETRY_AFTER)


def status_error(status: int, reason: str, location: str | None = None) -> HTTPStatusError:
    """The failure reason for a final status; a redirect names where it pointed."""
    detail = f"redirect to {location!r} not followed" if status in _REDIRECTS else None
    return HTTPStatusError(status, reason, detail)


def decide(
    outcome: Outcome,
    *,
    reason: str = "",
    retry_after: float | None = None,
    retries_done: int,
    attempts: int,
    backoff_elapsed: float = 0.0,
    max_retries: int,
    max_backoff_duration: float = math.inf,
    random: float,
    oauth: bool = False,
    location: str | None = None,
) -> Decision:
    """Decide what follows an attempt.

    Args:
        outcome: the status, or the transport failure.
        reason: the status's reason phrase.
        retry_after: the parsed `Retry-After` of the answer (see `parse_retry_after`).
        retries_done: counted retries the batch already made.
        attempts: HTTP attempts the batch made, this one included.
        backoff_elapsed: seconds since the batch's first counted failure (0 if this is the first).
        max_retries: the counted-retry budget.
        max_backoff_duration: seconds a batch may spend in counted retries.
        random: a number in [0, 1) for the backoff jitter.
        oauth: whether OAuth is on (511 is then retried).
        location: the `Location` header of a redirect.
    """
    if isinstance(outcome, TransportError):
        error: DeliveryError = outcome
    else:
        verdict = classify(outcome, oauth=oauth)
        if verdict:
            return DELIVERED
        error = status_error(outcome, reason, location)
        if verdict is False:
            return Decision(error=error)
    rate_limited = outcome == 429 and retry_after is not None
    if not rate_limited and (backoff_elapsed > max_backoff_duration or retries_done >= max_retries):
        return Decision(error=error)
    if attempts > max_retries + EXTRA_ATTEMPTS:
        return Decision(error=error)
    if rate_limited:
        return Decision(delay=0.0, error=error, rate_limit=max(retry_after or 0.0, MIN_RATE_LIMIT_WAIT))
    return Decision(delay=backoff(retries_done + 1, random), error=error, counted=True)


class RateLimitGate:
    """The rate-limit state shared by every batch of one instance (a 429 pauses them all).

    Times are on the caller's clock (seconds). A window set by a 429 pauses every attempt until it
    ends; the total time spent rate limited is bounded, and only a success resets that total.
    """

    def __init__(self) -> None:
        self.limited_until: float | None = None
        self.started_at: float | None = None

    def limit(self, now: float, seconds: float) -> None:
        """Pause sending until `now + seconds`."""
        self.limited_until = now + seconds
        if self.started_at is None:
            self.started_at = now

    def clear(self) -> None:
        """A request succeeded: no longer rate limited."""
        self.limited_until = self.started_at = None

    def wait(self, now: float, max_duration: float) -> float:
        """Seconds to wait before the next attempt (0: go now).

        Raises:
            RateLimitExceededError: rate limited for `max_duration` seconds or more; the state resets.
        """
        if self.limited_until is None:
            return 0.0
        assert self.started_at is not None
        limited_for = now - self.started_at
        if limited_for >= max_duration:
            self.clear()
            raise RateLimitExceededError(f"rate limited (429) for longer than {max_duration:g} s")
        if now >= self.limited_until:
            self.limited_until = None  # started_at stays: the total keeps running until a success
            return 0.0
        return min(self.limited_until - now, max_duration - limited_for)
