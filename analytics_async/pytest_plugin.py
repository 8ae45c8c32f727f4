"""pytest fixtures for code that uses analytics-async; opt in from a conftest.py.

```python
# conftest.py
pytest_plugins = ["analytics_async.pytest_plugin"]


# test_signup.py: with pytest-asyncio (mark the test in its strict mode) or anyio's plugin
@pytest.mark.asyncio
async def test_signup_tracks(analytics, analytics_recorder):
    await signup(analytics, "u1")
    await analytics.flush()
    assert [e["event"] for e in analytics_recorder.events_of("track")] == ["Signed Up"]
```

The fixtures are plain (not async) fixtures, so they work with pytest-asyncio in either mode, with
anyio's pytest plugin (asyncio backend) and in sync tests; nothing beyond pytest is imported. After
the test, `analytics` is closed in a fresh event loop: events the test left unsent still reach the
recorder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from ._lifecycle.client import Analytics
from .testing import RecordingClient

__all__ = ["analytics", "analytics_recorder"]


@pytest.fixture
def analytics_recorder() -> RecordingClient:
    """The in-memory HTTP client behind the `analytics` fixture."""
    return RecordingClient()


@pytest.fixture
def analytics(analytics_recorder: RecordingClient) -> Iterator[Analytics]:
    """An Analytics sending to `analytics_recorder`; closed (and flushed) after the test."""
    instance = Analytics(write_key="test-write-key", http_client=analytics_recorder)
    yield instance
    asyncio.run(instance.flush(close=True, timeout=5))
