"""pytest fixtures for code that uses analytics-async; opt in from a conftest.py.

```python
pytest_plugins = ["analytics_async.pytest_plugin"]


async def test_signup_tracks(analytics, analytics_recorder):
    await signup(analytics, "u1")
    await analytics.flush()
    assert [e["event"] for e in analytics_recorder.events_of("track")] == ["Signed Up"]
```

Needs pytest-asyncio (the `analytics` fixture is async).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from ._client import Analytics
from .testing import RecordingClient

__all__ = ["analytics", "analytics_recorder"]


@pytest.fixture
def analytics_recorder() -> RecordingClient:
    """The in-memory HTTP client behind the `analytics` fixture."""
    return RecordingClient()


@pytest_asyncio.fixture
async def analytics(analytics_recorder: RecordingClient) -> AsyncIterator[Analytics]:
    """An Analytics sending to `analytics_recorder`; closed (and flushed) after the test."""
    instance = Analytics(write_key="test-write-key", http_client=analytics_recorder)
    yield instance
    await instance.flush(close=True, timeout=5)
