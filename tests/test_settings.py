"""Settings are validated at construction, with ConfigError naming the setting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from analytics_async import Analytics, ConfigError
from analytics_async._core.settings import batch_url


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"write_key": ""}, "write_key"),
        ({"write_key": None}, "write_key"),
        ({"host": "foo.com"}, "host"),
        ({"host": ""}, "host"),
        ({"host": "ftp://x"}, "host"),
        ({"path": 5}, "path"),
        ({"flush_at": 2501}, "flush_at"),
        ({"flush_at": 1.5}, "flush_at"),
        ({"flush_interval": -1}, "flush_interval"),
        ({"flush_interval": float("nan")}, "flush_interval"),
        ({"max_retries": -1}, "max_retries"),
        ({"http_request_timeout": 0}, "http_request_timeout"),
        ({"max_total_backoff_duration": -5}, "max_total_backoff_duration"),
        ({"max_rate_limit_duration": "1"}, "max_rate_limit_duration"),
        ({"disable": 1}, "disable"),
        ({"gzip": "yes"}, "gzip"),
        ({"http_client": object()}, "http_client"),
        ({"max_queue_size": 0}, "max_queue_size"),
        ({"queue_full": "block"}, "queue_full"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"clock": object()}, "clock"),
    ],
)
def test_bad_settings_raise_config_error(settings: dict[str, Any], name: str) -> None:
    """Each invalid setting raises ConfigError naming it."""
    settings = {"write_key": "k", **settings}
    with pytest.raises(ConfigError) as info:
        Analytics(**settings)
    assert info.value.setting == name
    assert str(info.value).startswith(name)
    assert isinstance(info.value, ValueError)


def test_flush_at_below_one_becomes_one() -> None:
    """flush_at values below 1 are raised to 1, as analytics-node does."""
    assert Analytics(write_key="k", flush_at=0)._settings.flush_at == 1


def test_construction_needs_no_event_loop() -> None:
    """An instance can be built at module level, outside any running loop."""
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    analytics = Analytics(write_key="k")
    assert "open" in repr(analytics)


def test_close_timeout_default() -> None:
    """close_and_flush's default timeout is max(60, flush_interval) * 1.25 seconds."""
    assert Analytics(write_key="k")._settings.close_timeout == 75.0
    assert Analytics(write_key="k", flush_interval=120)._settings.close_timeout == 150.0


@pytest.mark.parametrize(
    ("host", "path", "url"),
    [
        ("http://foo.com", "/bar", "http://foo.com/bar"),
        ("http://foo.com", "/bar/baz", "http://foo.com/bar/baz"),
        ("http://foo.com/", "/bar", "http://foo.com/bar"),
        ("http://foo.com", "bar", "http://foo.com/bar"),
        ("http://foo", "bar", "http://foo/bar"),
        ("http://foo.com/", "", "http://foo.com"),
        ("http://foo.com/", "bar/", "http://foo.com/bar"),
        ("https://x.io/", "v2/b/", "https://x.io/v2/b"),
        ("https://events.eu1.segmentapis.com", "/v1/batch", "https://events.eu1.segmentapis.com/v1/batch"),
    ],
)
def test_url_resolution(host: str, path: str, url: str) -> None:
    """The batch URL resolves path against host like analytics-node (one trailing slash dropped)."""
    assert batch_url(host, path) == url


@pytest.mark.parametrize("key", ["Zq9\ud800", "Zq9 key", "Zq9é", "Zq9\nx"])
def test_write_key_that_cannot_be_sent_is_a_config_error_without_the_key(key: str) -> None:
    """A write key that cannot travel in an HTTP header is refused at once, and the error never shows it."""
    with pytest.raises(ConfigError) as info:
        Analytics(write_key=key)
    error = info.value
    assert error.setting == "write_key"
    assert error.__cause__ is None
    assert error.__context__ is None
    assert "Zq9" not in str(error)
    assert "Zq9" not in repr(error.args)
