"""Shared fixtures: a local Segment-compatible server and instances that are always closed."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from analytics_async import Analytics
from analytics_async.testing import FakeClock, SegmentSink

from .helpers import sink_in_thread

MakeAnalytics = Callable[..., Analytics]

# Property tests (tests/test_properties.py): quick by default, thorough in CI (.ci/run sets the profile).
settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile("ci", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to the local servers must not go through a proxy this machine may define."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
async def sink() -> AsyncIterator[SegmentSink]:
    """A SegmentSink listening on 127.0.0.1."""
    async with SegmentSink() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock; time moves only with `await clock.advance(...)`."""
    return FakeClock()


@pytest.fixture
async def make_analytics(sink: SegmentSink) -> AsyncIterator[MakeAnalytics]:
    """Build Analytics instances pointed at the sink; each is closed at the end of the test."""
    made: list[Analytics] = []

    def make(**settings: Any) -> Analytics:
        settings.setdefault("write_key", "test-key")
        settings.setdefault("host", sink.url)
        instance = Analytics(**settings)
        made.append(instance)
        return instance

    yield make
    for instance in made:
        await instance.flush(close=True, timeout=0)


@pytest.fixture
def threaded_sink() -> Iterator[SegmentSink]:
    """A SegmentSink serving from its own thread and loop, so tests can run asyncio.run themselves."""
    with sink_in_thread(SegmentSink()) as sink:
        yield sink
