"""The pure delivery decisions, exhaustively and without I/O."""

from __future__ import annotations

import math

import pytest

from analytics_async import HTTPStatusError, RateLimitExceededError, TransportError
from analytics_async._delivery.retry import (
    Answer,
    Attempts,
    Decision,
    Outcome,
    RateLimitGate,
    RetryBudget,
    backoff,
    classify,
    decide,
    parse_retry_after,
)

SUCCESS = [200, 201, 204, 299, 300, 304, 399]
FINAL = [301, 302, 303, 307, 308, 400, 401, 403, 404, 413, 415, 422, 501, 505, 511]
RETRIED = [100, 199, 408, 410, 429, 460, 500, 502, 503, 504, 599, 600, 999]


@pytest.mark.parametrize("status", SUCCESS)
def test_success_statuses(status: int) -> None:
    """2xx and non-redirect 3xx answers are success."""
    assert classify(status) is True


@pytest.mark.parametrize("status", FINAL)
def test_final_statuses(status: int) -> None:
    """Redirects, most 4xx, 501, 505 and 511 (without OAuth) are final."""
    assert classify(status) is False


@pytest.mark.parametrize("status", RETRIED)
def test_retried_statuses(status: int) -> None:
    """408, 410, 429, 460, other 5xx and nonsense statuses are retried."""
    assert classify(status) is None


def test_511_is_retried_with_oauth() -> None:
    """511 is retried only when OAuth is on."""
    assert classify(511, oauth=True) is None


@pytest.mark.parametrize(
    ("retry", "low", "high"),
    [(1, 1, 2), (2, 2, 4), (3, 4, 8), (4, 8, 16), (5, 16, 32), (6, 32, 60), (7, 60, 60), (30, 60, 60)],
)
def test_backoff_table(retry: int, low: float, high: float) -> None:
    """Backoff is min((1 + random) * 0.5 s * 2**n, 60 s), n = 1 for the first retry."""
    assert backoff(retry, 0.0) == low
    assert low <= backoff(retry, 0.999999) <= high


def _decide(
    outcome: Outcome,
    *,
    made: int,
    retries: int,
    max_retries: int,
    reason: str = "",
    retry_after: float | None = None,
    location: str | None = None,
    failed_for: float | None = None,
    max_backoff: float = math.inf,
) -> Decision:
    """`decide` at clock time 100 for a batch that has made `made` attempts and `retries` retries."""
    first = None if failed_for is None else 100.0 - failed_for
    return decide(
        Answer(outcome, reason, retry_after, location),
        Attempts(made, retries, first),
        RetryBudget(max_retries, max_backoff),
        now=100.0,
        random=0.0,
    )


def test_decide_success() -> None:
    """A 200 is delivered whatever the budget."""
    assert _decide(200, made=40, retries=10, max_retries=0).delivered


def test_decide_final_status_gives_up_at_once() -> None:
    """A final status fails without a retry, with an HTTPStatusError carrying status and reason."""
    decision = _decide(404, reason="Not Found", made=1, retries=0, max_retries=10)
    assert decision.delay is None
    assert isinstance(decision.error, HTTPStatusError)
    assert str(decision.error) == "[404] Not Found"


def test_decide_retries_until_budget() -> None:
    """max_retries counted retries are allowed, so attempts = max_retries + 1."""
    first = _decide(503, reason="Service Unavailable", made=1, retries=0, max_retries=2)
    assert (first.delay, first.counted) == (1.0, True)
    assert _decide(503, reason="Service Unavailable", made=2, retries=1, max_retries=2).delay == 2.0
    last = _decide(503, reason="Service Unavailable", made=3, retries=2, max_retries=2)
    assert last.delay is None
    assert str(last.error) == "[503] Service Unavailable"


def test_attempts_record_counted_retries_only() -> None:
    """A counted retry moves the retry count and starts the backoff clock once; a 429 wait does not."""
    attempts = Attempts(made=1)
    attempts.record(Decision(delay=0.0, rate_limit=5.0), now=10.0)
    assert (attempts.retries, attempts.first_failure) == (0, None)
    attempts.record(Decision(delay=1.0, counted=True), now=11.0)
    attempts.record(Decision(delay=2.0, counted=True), now=13.0)
    assert (attempts.retries, attempts.first_failure) == (2, 11.0)


def test_decide_transport_error_is_retried() -> None:
    """A transport failure is a counted retry, and the final reason once the budget is spent."""
    error = TransportError("reset")
    assert _decide(error, made=1, retries=0, max_retries=1).delay == 1.0
    assert _decide(error, made=2, retries=1, max_retries=1).error is error


def test_redirect_names_location() -> None:
    """A redirect is final and its reason names where it pointed."""
    decision = _decide(302, reason="Found", made=1, retries=0, max_retries=3, location="http://x/y")
    assert "http://x/y" in str(decision.error)
    assert decision.delay is None


def test_429_with_retry_after_is_uncounted() -> None:
    """A 429 with Retry-After waits at least 1 s through the shared gate, not the retry budget."""
    decision = _decide(429, retry_after=0.0, made=1, retries=0, max_retries=0)
    assert (decision.delay, decision.counted, decision.rate_limit) == (0.0, False, 1.0)
    assert _decide(429, retry_after=7.0, made=6, retries=5, max_retries=0).rate_limit == 7.0


@pytest.mark.parametrize("status", [503, 408, 500, 460])
def test_retry_after_is_honoured_on_every_retryable_status(status: int) -> None:
    """Retry-After on any retryable status sets the shared wait; unlike a 429's, the retry is counted."""
    decision = _decide(status, retry_after=7.0, made=1, retries=0, max_retries=3)
    assert (decision.delay, decision.counted, decision.rate_limit) == (0.0, True, 7.0)
    assert _decide(status, retry_after=7.0, made=4, retries=3, max_retries=3).delay is None  # budget spent
    assert _decide(400, retry_after=7.0, made=1, retries=0, max_retries=3).delay is None  # final stays final


def test_429_without_retry_after_is_counted() -> None:
    """A 429 without a usable Retry-After is an ordinary counted retry."""
    decision = _decide(429, reason="Too Many Requests", made=1, retries=0, max_retries=1)
    assert (decision.delay, decision.counted, decision.rate_limit) == (1.0, True, None)
    assert _decide(429, made=2, retries=1, max_retries=1).delay is None


def test_attempt_cap() -> None:
    """No batch makes more than max_retries + 21 attempts, rate-limited ones included."""
    assert _decide(429, retry_after=0.0, made=20, retries=0, max_retries=0).delay == 0.0
    capped = _decide(429, reason="Too Many Requests", retry_after=0.0, made=21, retries=0, max_retries=0)
    assert capped.delay is None
    assert str(capped.error) == "[429] Too Many Requests"


def test_total_backoff_duration_budget() -> None:
    """Counted retries stop once more than max_total_backoff_duration passed since the first failure."""
    on_time = _decide(500, made=4, retries=3, max_retries=10, failed_for=10.0, max_backoff=10.0)
    assert on_time.delay == 8.0
    late = _decide(500, made=4, retries=3, max_retries=10, failed_for=10.01, max_backoff=10.0)
    assert late.delay is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None), ("", None), ("abc", None), ("-1", None), ("0", 0.0), ("1.5", 1.0), ("2abc", 2.0),
        ("600", 300.0), (" 7", 7.0), ("Thu, 01 Jan 1970 00:00:30 GMT", 20.0),
        ("9" * 5000, 300.0), ("-" + "9" * 5000, None), ("1e3", 1.0), ("Wed, 99 Foo 2026 25:61:61 GMT", None),
        ("\xff\x00", None),
        ("Thu, 01 Jan 1970 00:00:01 GMT", 0.0),
    ],
)  # fmt: skip
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    """Retry-After: integer seconds as parseInt reads them, or an HTTP-date; capped at 300 s."""
    assert parse_retry_after(value, wall_now=10.0) == seconds


def test_gate_pauses_until_the_window_ends() -> None:
    """The gate asks every attempt to wait until the window set by a 429 ends."""
    gate = RateLimitGate()
    assert gate.wait(100.0, 3600) == 0.0
    gate.limit(100.0, 5.0)
    assert gate.wait(101.0, 3600) == 4.0
    assert gate.wait(105.0, 3600) == 0.0
    assert gate.limited_until is None
    assert gate.started_at == 100.0


def test_gate_bounds_total_rate_limited_time() -> None:
    """Rate limited for max_duration in total (until a success), the waiting batch fails."""
    gate = RateLimitGate()
    gate.limit(0.0, 10.0)
    assert gate.wait(0.0, 25.0) == 10.0
    gate.limit(10.0, 10.0)
    gate.limit(20.0, 10.0)
    assert gate.wait(20.0, 25.0) == 5.0  # never past the total budget
    with pytest.raises(RateLimitExceededError):
        gate.wait(25.0, 25.0)
    assert gate.wait(25.0, 25.0) == 0.0


def test_gate_clears_on_success() -> None:
    """A success resets the window and the total."""
    gate = RateLimitGate()
    gate.limit(0.0, 10.0)
    gate.clear()
    assert gate.wait(1.0, 5.0) == 0.0
    assert gate.started_at is None
