"""Pure delivery decisions: is an answer a success, a final failure, or worth another attempt?

Nothing here does I/O or reads a clock: the sender passes in what happened and the time, and gets a
decision back (analytics-node-behavior.md §8 and §9, with the changes of DECISIONS.md).
"""

from __future__ import annotations

import math
import re
from typing import Final

import attrs

from ..errors import CertificateError, DeliveryError, HTTPStatusError, RateLimitExceededError, TransportError

__all__ = [
    "Answer",
    "Attempts",
    "Decision",
    "Outcome",
    "RateLimitGate",
    "RetryBudget",
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
_MAX_DIGITS: Final = 6

Outcome = int | TransportError
"""What one attempt produced: an HTTP status, or the transport failure that prevented one."""


@attrs.frozen
class Decision:
    """The verdict on one attempt.

    Delivered; or give up with `error` (`delay` is None); or retry after `delay` seconds, `counted`
    against `max_retries` or not (a 429 with Retry-After); `rate_limit` is a wait the server asked for
    with Retry-After, which every batch of the instance observes.
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
        digits = match.group(1)
        if len(digits.lstrip("+-")) > _MAX_DIGITS:  # longer than any sensible wait: the cap (or unusable)
            return None if digits.startswith("-") else MAX_RETRY_AFTER
        seconds = float(int(digits))
    else:
        from email.utils import parsedate_to_datetime  # noqa: PLC0415 - 15 ms to import: only for a date

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


@attrs.frozen
class Answer:
    """What one attempt produced: a status (with the headers that matter), or a transport failure."""

    outcome: Outcome
    reason: str = ""
    """The status's reason phrase."""
    retry_after: float | None = None
    """The parsed `Retry-After` (see `parse_retry_after`)."""
    location: str | None = None
    """The `Location` of a redirect."""


@attrs.frozen
class RetryBudget:
    """How far one batch may go, from the settings."""

    max_retries: int
    """Counted retries allowed (attempts = max_retries + 1, plus uncounted 429 waits)."""
    max_backoff_duration: float = math.inf
    """Seconds a batch may spend in counted retries, from its first counted failure."""
    oauth: bool = False
    """Whether OAuth is on (a 511 is then retried)."""


@attrs.define
class Attempts:
    """One batch's history: attempts made, counted retries, when the first counted failure came."""

    made: int = 0
    retries: int = 0
    first_failure: float | None = None

    def record(self, decision: Decision, now: float) -> None:
        """Count a retry `decision` taken at `now` (clock seconds)."""
        if decision.counted:
            self.retries += 1
            if self.first_failure is None:
                self.first_failure = now


def decide(answer: Answer, attempts: Attempts, budget: RetryBudget, *, now: float, random: float) -> Decision:
    """Decide what follows the attempt that produced `answer` (already counted in `attempts.made`).

    `now` is the clock time (for the backoff budget); `random` in [0, 1) is the backoff jitter.
    """
    outcome = answer.outcome
    if isinstance(outcome, CertificateError):
        return Decision(error=outcome)  # retrying cannot make the certificate trusted
    if isinstance(outcome, TransportError):
        error: DeliveryError = outcome
    else:
        verdict = classify(outcome, oauth=budget.oauth)
        if verdict:
            return DELIVERED
        error = status_error(outcome, answer.reason, answer.location)
        if verdict is False:
            return Decision(error=error)
    wait = answer.retry_after
    rate_limited = outcome == 429 and wait is not None
    backoff_elapsed = 0.0 if attempts.first_failure is None else now - attempts.first_failure
    out_of_budget = backoff_elapsed > budget.max_backoff_duration or attempts.retries >= budget.max_retries
    if (out_of_budget and not rate_limited) or attempts.made > budget.max_retries + EXTRA_ATTEMPTS:
        return Decision(error=error)
    if wait is not None:
        # The server said how long to wait (on a 429, 503, 408, ...): every batch waits that long at the
        # shared gate. A 429's wait is not counted against max_retries (analytics-node); the others are.
        return Decision(
            delay=0.0, error=error, counted=not rate_limited, rate_limit=max(wait, MIN_RATE_LIMIT_WAIT)
        )
    return Decision(delay=backoff(attempts.retries + 1, random), error=error, counted=True)


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
