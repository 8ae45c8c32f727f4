"""The framework helpers and the testing helpers, through their public API."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from analytics_async import Analytics, HTTPStatusError, TransportError, frameworks
from analytics_async.frameworks import lambda_handler, lifespan, shutdown_on_signals
from analytics_async.testing import RecordingClient, ScriptedClient, SegmentSink, Step

from .helpers import loaded_modules


async def test_shutdown_on_signals_closes_with_the_deadline(sink: SegmentSink) -> None:
    """SIGTERM sets the event; leaving the block delivers what was queued and closes the instance."""
    analytics = Analytics(write_key="k", host=sink.url, flush_interval=3600)
    async with shutdown_on_signals(analytics, timeout=5) as stopping:
        await analytics.track(event="E", user_id="u")
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stopping.wait(), 5)
    assert len(sink.events) == 1
    assert "closed" in repr(analytics)


def starlette_dependency() -> Callable[[object], Analytics]:
    """`frameworks.get_analytics` (made on first use; needs Starlette, from the examples extra)."""
    pytest.importorskip("starlette")
    return frameworks.get_analytics  # type: ignore[return-value]


async def test_lifespan_exposes_and_closes(sink: SegmentSink) -> None:
    """The lifespan puts the instance on app.state and the yielded state, and closes it on exit."""
    analytics = Analytics(write_key="k", host=sink.url, flush_interval=3600)
    app = SimpleNamespace(state=SimpleNamespace())
    async with lifespan(analytics, shutdown_timeout=5)(app) as state:
        assert state == {"analytics": analytics}
        request = SimpleNamespace(state=SimpleNamespace(), app=app)
        assert starlette_dependency()(request) is analytics
        await analytics.track(event="E", user_id="u")
    assert len(sink.events) == 1


def test_get_analytics_without_lifespan() -> None:
    """A handler on an app without the lifespan gets a clear error."""
    request = SimpleNamespace(state=SimpleNamespace(), app=SimpleNamespace(state=SimpleNamespace()))
    with pytest.raises(RuntimeError, match="lifespan"):
        starlette_dependency()(request)


def test_lambda_handler_needs_one_pattern() -> None:
    """lambda_handler takes an instance or a factory, not both, not neither."""
    with pytest.raises(TypeError):
        lambda_handler()
    with pytest.raises(TypeError):
        lambda_handler(Analytics(write_key="k"), factory=lambda: Analytics(write_key="k"))


def test_lambda_handler_wraps_sync_handlers(threaded_sink: SegmentSink) -> None:
    """A plain handler running its own asyncio.run gets its events flushed afterwards."""
    analytics = Analytics(write_key="k", host=threaded_sink.url, flush_interval=3600)

    @lambda_handler(analytics)
    def handler(event: dict[str, str], context: object) -> str:
        asyncio.run(analytics.track(event="E", user_id=event["user"]))
        return "done"

    assert handler({"user": "u1"}, None) == "done"
    assert [e["userId"] for e in threaded_sink.events] == ["u1"]


async def test_recording_client_reads_back_events() -> None:
    """RecordingClient keeps the requests; events_of filters by type and name."""
    recorder = RecordingClient()
    async with Analytics(write_key="k", http_client=recorder, gzip=True) as analytics:
        await analytics.track(event="A", user_id="u")
        await analytics.identify(user_id="u", traits={"x": 1})
        await analytics.track(event="B", user_id="u")
    assert [e["event"] for e in recorder.events_of("track")] == ["A", "B"]
    assert recorder.events_of("track", event="B")[0]["userId"] == "u"
    assert len(recorder.events_of("identify")) == 1
    assert recorder.batches[0]["writeKey"] == "k"
    assert recorder.closed is False  # a client you pass in is yours to close


async def test_scripted_client_plays_failures() -> None:
    """ScriptedClient answers the scripted statuses and transport failures, in order."""
    client = ScriptedClient(Step(fail=True), 400)
    async with Analytics(
        write_key="k", http_client=client, max_retries=0, flush_at=1, max_in_flight=1
    ) as analytics:
        first = await analytics.track(event="A", user_id="u")
        await analytics.flush()
        second = await analytics.track(event="B", user_id="u")
        await analytics.flush()
        third = await analytics.track(event="C", user_id="u")
    assert isinstance(first.failed_delivery().reason, TransportError)  # type: ignore[union-attr]
    assert isinstance(second.failed_delivery().reason, HTTPStatusError)  # type: ignore[union-attr]
    assert await third.delivered()
    assert len(client.requests) == 3


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ini", "mark"),
    [
        ("asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function", ""),
        ("asyncio_mode = strict\nasyncio_default_fixture_loop_scope = function", "@pytest.mark.asyncio\n"),
        ("", "@pytest.mark.anyio\n"),
    ],
    ids=["pytest-asyncio auto", "pytest-asyncio strict", "anyio"],
)
def test_pytest_plugin_in_a_user_project(tmp_path: Path, ini: str, mark: str) -> None:
    """A user's test using the `analytics` and `analytics_recorder` fixtures passes in each async mode."""
    if "anyio" in mark:
        pytest.importorskip("anyio")
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n{ini}\n")
    (tmp_path / "conftest.py").write_text(
        'import pytest\npytest_plugins = ["analytics_async.pytest_plugin"]\n\n'
        "@pytest.fixture\ndef anyio_backend():\n    return 'asyncio'\n"
    )
    (tmp_path / "test_user.py").write_text(
        f"import pytest\n\n{mark}async def test_signup(analytics, analytics_recorder):\n"
        "    await analytics.track(event='Signed Up', user_id='u1')\n"
        "    await analytics.flush()\n"
        "    assert [e['event'] for e in analytics_recorder.events_of('track')] == ['Signed Up']\n\n"
        f"{mark}async def test_unflushed(analytics):\n"
        "    await analytics.track(event='Left Behind', user_id='u1')  # sent at teardown\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error::ResourceWarning",
         "-W", "error::RuntimeWarning", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert "2 passed" in result.stdout, result.stdout + result.stderr


@pytest.mark.slow
def test_importing_frameworks_loads_no_web_framework() -> None:
    """`import analytics_async.frameworks` loads neither aiohttp.web nor starlette (ANALYTICS_KEY is lazy)."""
    frameworks = ["aiohttp.web", "starlette", "fastapi"]
    assert loaded_modules("import analytics_async.frameworks", frameworks) == []
    reading_the_key = "import analytics_async.frameworks as f\nf.ANALYTICS_KEY"
    assert loaded_modules(reading_the_key, frameworks) == ["aiohttp.web"]


@pytest.mark.parametrize("persistent", [False, True], ids=["asyncio.run each time", "one loop for all"])
def test_plain_lambda_handlers_are_silent_and_lose_nothing(
    threaded_sink: SegmentSink, caplog: pytest.LogCaptureFixture, persistent: bool
) -> None:
    """A decorated plain handler running its own loop: no warning, no stranded task, every event sent."""
    analytics = Analytics(write_key="k", host=threaded_sink.url)
    own_loop = asyncio.new_event_loop() if persistent else None

    @lambda_handler(analytics)
    def handler(event: dict[str, int], context: object) -> int:
        async def work() -> None:
            await analytics.track(event="Invoked", user_id="u", properties=event)

        if own_loop is not None:
            own_loop.run_until_complete(work())
        else:
            asyncio.run(work())
        return event["n"]

    assert [handler({"n": n}, None) for n in range(5)] == list(range(5))
    closing = analytics.flush(close=True, timeout=5)
    if own_loop is not None:
        own_loop.run_until_complete(closing)
        own_loop.close()
    else:
        asyncio.run(closing)
    assert sorted(e["properties"]["n"] for e in threaded_sink.events) == list(range(5))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
