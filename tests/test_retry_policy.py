"""The pure delivery decisions, exhaustively and without I/O."""

from __future__ import annotations

import pytest

from analytics_async import HTTPStatusError, TransportError
from analytics_async._retry import backoff, classify, decide

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
    assert decide(200, retries_done=10, max_retries=0, random=0.5).delivered


def test_decide_final_status_gives_up_at_once() -> None:
    """A final status fails without a retry, with an HTTPStatusError carrying status and reason."""
    decision = decide(404, reason="Not Found", retries_done=0, max_retries=10, random=0.5)
    assert decision.delay is None
    assert isinstance(decision.error, HTTPStatusError)
    assert str(decision.error) == "[404] Not Found"


def test_decide_retries_until_budget() -> None:
    """max_retries counted retries are allowed, so attempts = max_retries + 1."""
    first = decide(503, reason="Service Unavailable", retries_done=0, max_retries=2, random=0.0)
    assert first.delay == 1.0
    second = decide(503, reason="Service Unavailable", retries_done=1, max_retries=2, random=0.0)
    assert second.delay == 2.0
    last = decide(503, reason="Service Unavailable", retries_done=2, max_retries=2, random=0.0)
    assert last.delay is None
    assert str(last.error) == "[503] Service Unavailable"


def test_decide_transport_error_is_retried() -> None:
    """A transport failure is a counted retry, and the final reason once the budget is spent."""
    error = TransportError("reset")
    assert decide(error, retries_done=0, max_retries=1, random=0.0).delay == 1.0
    assert decide(error, retries_done=1, max_retries=1, random=0.0).error is error


def test_redirect_names_location() -> None:
    """A redirect's failure says where it pointed and that it was not followed."""
    decision = decide(302, reason="Found", retries_done=0, max_retries=3, random=0.0, location="http://x/y")
    assert "http://x/y" in str(decision.error)
