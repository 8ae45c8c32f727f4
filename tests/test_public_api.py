"""The public surface: exported names, version, and that secrets never show in reprs."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

import analytics_async
from analytics_async import Analytics, HTTPRequest, errors, frameworks, plans, sync, testing

from .helpers import loaded_modules


def test_all_is_pinned() -> None:
    """The package exports exactly the documented names."""
    assert sorted(analytics_async.__all__) == sorted(
        [
            "Analytics", "AnalyticsError", "AuthError", "CertificateError", "Clock", "ClosedError",
            "ConfigError",
            "Context", "ContextCancelation", "DeliveryError", "ErrorEvent", "EventTooLargeError",
            "FailedDelivery", "FlushEvent", "FlushTimeoutError", "HTTPClient", "HTTPRequest",
            "HTTPRequestEvent", "HTTPResponse", "HTTPResponseEvent", "HTTPStatusError", "Headers",
            "LogLine", "OAuthSettings", "PlanViolationError", "Plugin", "PluginType", "QueueFullError",
            "RateLimitExceededError",
            "SimplePlugin", "SpooledError",
            "Stats", "TimerHandle",
            "TransportError", "ValidationError", "__version__",
        ]
    )  # fmt: skip
    for name in analytics_async.__all__:
        assert hasattr(analytics_async, name), name


def test_errors_module_exports_the_tree() -> None:
    """Every error in `errors.__all__` is re-exported from the package and derives from the root."""
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert getattr(analytics_async, name) is cls
        assert issubclass(cls, errors.AnalyticsError)
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.EventTooLargeError, errors.ValidationError)
    for name in ("HTTPStatusError", "TransportError", "FlushTimeoutError", "QueueFullError"):
        assert issubclass(getattr(errors, name), errors.DeliveryError)
    assert issubclass(errors.SpooledError, errors.FlushTimeoutError)


def test_version_is_exposed() -> None:
    """The version string is on the module and on the class."""
    assert analytics_async.__version__ == Analytics.VERSION
    assert analytics_async.__version__.count(".") == 2


def test_package_is_typed() -> None:
    """py.typed ships with the package."""
    assert (pathlib.Path(analytics_async.__file__).parent / "py.typed").is_file()


def test_reprs_never_show_the_write_key() -> None:
    """Neither the instance nor a request shows the write key or the Authorization header."""
    analytics = Analytics(write_key="sekrit-write-key")
    assert "sekrit" not in repr(analytics)
    assert "sekrit" not in repr(analytics._settings)
    request = HTTPRequest(
        url="http://x", method="POST", headers={"Authorization": "Basic c2Vrcml0"}, body=b"sekrit", timeout=1
    )
    assert "c2Vrcml0" not in repr(request)
    assert "sekrit" not in repr(request)


def test_public_submodules_are_pinned() -> None:
    """testing, frameworks and sync export exactly their documented names."""
    assert sorted(testing.__all__) == [
        "FakeClock", "Faults", "ReceivedBatch", "RecordingClient", "Responder", "ScriptedClient",
        "SegmentSink", "Step", "assert_conforms", "idle",
    ]  # fmt: skip
    assert sorted(plans.__all__) == [
        "OnUnplanned", "OnViolation", "PlanPlugin", "PlanViolation", "PlanViolationError", "Rule", "RuleType",
        "TrackingPlan", "Verdict",
    ]  # fmt: skip
    assert sorted(frameworks.__all__) == [
        "ANALYTICS_KEY", "get_analytics", "lambda_handler", "lifespan", "setup_aiohttp",
        "shutdown_on_signals",
    ]  # fmt: skip
    assert sorted(sync.__all__) == [
        "APIError", "ATEXIT_TIMEOUT", "Client", "InvalidCallError", "InvalidSettingError",
        "MessageTooLargeError", "ThreadCaller", "alias", "flush", "flush_on_signals", "from_thread", "group",
        "identify", "join", "page", "screen", "shutdown", "track",
    ]  # fmt: skip
    needs = {"get_analytics": "starlette"}  # made on first use, from a framework that may be absent
    for module in (testing, frameworks, sync, plans):
        for name in module.__all__:
            if name in needs and importlib.util.find_spec(needs[name]) is None:
                continue
            assert hasattr(module, name), name


@pytest.mark.slow
def test_optional_features_cost_nothing_when_unused() -> None:
    """Sending events without a spool, metrics, OAuth or a plan loads none of sqlite3, OTel, pyjwt, plans."""
    code = (
        "import asyncio, sys\n"
        "from analytics_async import Analytics\n"
        "async def main():\n"
        "    async with Analytics(write_key='k', disable=True) as analytics:\n"
        "        await analytics.track(event='E', user_id='u')\n"
        "asyncio.run(main())\n"
        "from analytics_async.sync import Client\n"
        "Client('k', send=False).track('u', 'E')\n"
        "loaded = {m.split('.')[0] for m in sys.modules} | {m for m in sys.modules if 'plans' in m}\n"
        "wanted = {'sqlite3', 'opentelemetry', 'jwt', 'jsonschema_rs', 'yaml', 'analytics_async._plans'}\n"
        "print(sorted(loaded & wanted))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_importing_the_package_loads_no_http_machinery_before_the_first_request() -> None:
    """`import analytics_async` (a Lambda cold start, a CLI) loads no HTTP library until one is needed.

    aiohttp is about half of the import's time; urllib.request (proxies), email.utils (HTTP dates)
    and gzip (gzip=True) are about 60 ms more, loaded where they are first used.
    """
    heavy = ["aiohttp", "urllib.request", "email.utils", "gzip", "http.client"]
    assert loaded_modules("import analytics_async, analytics_async.sync", heavy) == []
