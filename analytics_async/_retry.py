"""Pure delivery decisions: is an answer a success, a final failure, or worth another attempt?

Nothing here does I/O or reads a clock; the sender passes in what happened and gets a decision back
(analytics-node-behavior.md §8 with the changes of DECISIONS.md).
"""

from __future__ import annotations

from typing import Final

import attrs

from .errors import DeliveryError, HTTPStatusError, TransportError

__all__ = ["Decision", "Outcome", "backoff", "classify", "decide"]

BACKOFF_BASE: Final = 0.5
BACKOFF_FACTOR: Final = 2.0
BACKOFF_CAP: Final = 60.0
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_RETRIED_4XX: Final = frozenset({408, 410, 429, 460})
_FINAL_5XX: Final = frozenset({501, 505})

Outcome = int | TransportError
"""What one attempt produced: an HTTP status, or the transport failure that prevented one."""


@attrs.frozen
class Decision:
    """The verdict on one attempt: delivered, retry after `delay` seconds, or give up with `error`."""

    delivered: bool = False
    delay: float | None = None
    error: DeliveryError | None = None


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


def backoff(retry: int, random: float) -> float:
    """Seconds to wait before counted retry number `retry` (1 for the first); `random` in [0, 1)."""
    return min((1.0 + random) * BACKOFF_BASE * BACKOFF_FACTOR**retry, BACKOFF_CAP)


def status_error(status: int, reason: str, location: str | None = None) -> HTTPStatusError:
    """The failure reason for a final status; a redirect names where it pointed."""
    detail = f"redirect to {location!r} not followed" if status in _REDIRECTS else None
    return HTTPStatusError(status, reason, detail)


def decide(
    outcome: Outcome,
    *,
    reason: str = "",
    retries_done: int,
    max_retries: int,
    random: float,
    oauth: bool = False,
    location: str | None = None,
) -> Decision:
    """Decide what follows an attempt, `retries_done` counted retries into the batch's budget."""
    if isinstance(outcome, TransportError):
        error: DeliveryError = outcome
    else:
        verdict = classify(outcome, oauth=oauth)
        if verdict:
            return DELIVERED
        error = status_error(outcome, reason, location)
        if verdict is False:
            return Decision(error=error)
    if retries_done >= max_retries:
        return Decision(error=error)
    return Decision(delay=backoff(retries_done + 1, random), error=error)
