"""The pure delivery decisions, exhaustively and without I/O."""

from __future__ import annotations

import pytest

from analytics_async import HTTPStatusError, RateLimitExceededError, TransportError
from analytics_async._retry import RateLimitGate, backoff, classify, decide, parse_retry_after

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


def test_decide_success() -> None:
    """A 200 is delivered whatever the budget."""
    assert decide(200, retries_done=10, attempts=40, max_retries=0, random=0.5).delivered


def test_decide_final_status_gives_up_at_once() -> None:
    """A final status fails without a retry, with an HTTPStatusError carrying status and reason."""
    decision = decide(404, reason="Not Found", retries_done=0, attempts=1, max_retries=10, random=0.5)
    assert decision.delay is None
    assert isinstance(decision.error, HTTPStatusError)
    assert str(decision.error) == "[404] Not Found"


def test_decide_retries_until_budget() -> None:
    """max_retries counted retries are allowed, so attempts = max_retries + 1."""
    first = decide(503, reason="Service Unavailable", retries_done=0, attempts=1, max_retries=2, random=0.0)
    assert (first.delay, first.counted) == (1.0, True)
    second = decide(503, reason="Service Unavailable", retries_done=1, attempts=2, max_retries=2, random=0.0)
    assert second.delay == 2.0
    last = decide(503, reason="Service Unavailable", retries_done=2, attempts=3, max_retries=2, random=0.0)
    assert last.delay is None
    assert str(last.error) == "[503] Service Unavailable"


def test_decide_transport_error_is_retried() -> None:
    """A transport failure is a counted retry, and the final reason once the budget is spent."""
    error = TransportError("reset")
    assert decide(error, retries_done=0, attempts=1, max_retries=1, random=0.0).delay == 1.0
    assert decide(error, retries_done=1, attempts=2, max_retries=1, random=0.0).error is error


def test_redirect_names_location() -> None:
    """A redirect's failure says where it pointed and that it was not followed."""
    decision = decide(
        302, reason="Found", retries_done=0, attempts=1, max_retries=3, random=0.0, location="http://x/y"
    )
    assert "http://x/y" in str(decision.error)


def test_429_with_retry_after_is_uncounted() -> None:
    """A 429 with Retry-After retries without backoff or budget, waiting at least 1 s at the gate."""
    decision = decide(429, retry_after=0.0, retries_done=0, attempts=1, max_retries=0, random=0.0)
    assert (decision.delay, decision.counted, decision.rate_limit) == (0.0, False, 1.0)
    assert (
        decide(429, retry_after=7.0, retries_done=5, attempts=6, max_retries=0, random=0.0).rate_limit == 7.0
    )


def test_429_without_retry_after_is_counted() -> None:
    """A 429 without a usable Retry-After is an ordinary counted backoff retry."""
    decision = decide(429, reason="Too Many Requests", retries_done=0, attempts=1, max_retries=1, random=0.0)
    assert (decision.delay, decision.counted, decision.rate_limit) == (1.0, True, None)
    assert decide(429, retries_done=1, attempts=2, max_retries=1, random=0.0).delay is None


def test_attempt_cap() -> None:
    """No batch makes more than max_retries + 21 attempts, rate-limited ones included."""
    assert decide(429, retry_after=0.0, retries_done=0, attempts=20, max_retries=0, random=0.0).delay == 0.0
    capped = decide(
        429,
        reason="Too Many Requests",
        retry_after=0.0,
        retries_done=0,
        attempts=21,
        max_retries=0,
        random=0.0,
    )
    assert capped.delay is None
    assert str(capped.error) == "[429] Too Many Requests"


def test_total_backoff_duration_budget() -> None:
    """Counted retries stop once more than max_total_backoff_duration passed since the first failure."""
    kwargs = {
        "retries_done": 3,
        "attempts": 4,
        "max_retries": 10,
        "random": 0.0,
        "max_backoff_duration": 10.0,
    }
    assert decide(500, backoff_elapsed=10.0, **kwargs).delay == 8.0  # type: ignore[arg-type]
    assert decide(500, backoff_elapsed=10.01, **kwargs).delay is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None), ("", None), ("abc", None), ("-1", None), ("0", 0.0), ("1.5", 1.0), ("2abc", 2.0),
        ("600", 300.0), (" 7", 7.0), ("Thu, 01 Jan 1970 00:00:30 GMT", 20.0),
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
