"""The validated settings of an `Analytics` instance (API.md, Construction)."""

from __future__ import annotations

import math
import os
import re
from ssl import SSLContext
from typing import Final, Literal
from urllib.parse import urljoin, urlsplit

import attrs

from ..errors import ConfigError
from .clock import Clock, LoopClock
from .http_client import HTTPClient

__all__ = ["DEFAULT_MAX_IN_FLIGHT", "MAX_FLUSH_AT", "QueueFullPolicy", "Settings"]

QueueFullPolicy = Literal["drop", "wait"]
DEFAULT_MAX_IN_FLIGHT: Final = 4
"""Batches in flight at once: enough to hide a round trip, far below Segment's ~50 requests/s ask."""
_WRITE_KEY: Final = re.compile(r"[!-~]+")
"""Printable ASCII, no spaces: what an Authorization header can carry unchanged."""
DEFAULT_SPOOL_MAX_BYTES: Final = 50 * 2**20
"""The spool keeps at most this much event JSON (about 100,000 typical events)."""
MAX_FLUSH_AT: Final = 2500
"""The Tracking API caps a batch at 2,500 events."""


def _number(name: str, value: object, *, minimum: float = 0.0, allow_equal: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(name, f"must be a finite number, not {value!r}")
    if value < minimum or (value == minimum and not allow_equal):
        relation = ">=" if allow_equal else ">"
        raise ConfigError(name, f"must be {relation} {minimum:g}, not {value!r}")
    return float(value)


def _integer(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"must be an int, not {value!r}")
    if value < minimum:
        raise ConfigError(name, f"must be >= {minimum}, not {value!r}")
    return value


def batch_url(host: object, path: object) -> str:
    """Resolve `path` against `host` like a URL reference, dropping one trailing slash."""
    if not isinstance(host, str) or not host:
        raise ConfigError("host", f"must be a non-empty URL string, not {host!r}")
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("host", f"must be an http(s) URL with a host name, not {host!r}")
    if path is not None and not isinstance(path, str):
        raise ConfigError("path", f"must be a str, not {path!r}")
    url = urljoin(host, path or "")
    return url.removesuffix("/")


def _check_ssl(context: object, http_client: object) -> None:
    if context is None:
        return
    if not isinstance(context, SSLContext):
        raise ConfigError("ssl", f"must be an ssl.SSLContext or None, not {type(context).__name__}")
    if http_client is not None:
        raise ConfigError("ssl", "applies to the default HTTP client; configure your http_client")


def _check_proxy(proxy: object, http_client: object) -> None:
    if proxy is None:
        return
    parts = urlsplit(proxy) if isinstance(proxy, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("proxy", "must be an http(s) URL, such as 'http://proxy.internal:3128'")
    if http_client is not None:
        raise ConfigError("proxy", "applies to the default HTTP client; configure your http_client")


def _check_spool(spool: object) -> None:
    if spool is None:
        return
    if not isinstance(spool, str | os.PathLike) or not os.fspath(spool):
        raise ConfigError("spool", f"must be a file path (str or os.PathLike), not {spool!r}")
    path = os.fspath(spool)  # os.path, not pathlib: this module is imported with the package
    if os.path.isdir(path):
        raise ConfigError("spool", f"is a directory, not a file path: {path!r}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ConfigError("spool", f"the directory {directory!r} does not exist")


@attrs.frozen(kw_only=True)
class Settings:
    """Every setting, validated at construction; errors are `ConfigError` naming the setting."""

    write_key: str = attrs.field(repr=False)
    host: str = "https://api.segment.io"
    path: str = "/v1/batch"
    flush_at: int = 15
    flush_interval: float = 10.0
    max_retries: int = 10
    http_request_timeout: float = 10.0
    max_total_backoff_duration: float = 43200.0
    max_rate_limit_duration: float = 43200.0
    disable: bool = False
    http_client: HTTPClient | None = None
    oauth_settings: object | None = None
    max_queue_size: int = 10_000
    queue_full: QueueFullPolicy = "drop"
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    gzip: bool = False
    clock: Clock = attrs.field(factory=LoopClock)
    proxy: str | None = None
    ssl: SSLContext | None = None
    spool: str | os.PathLike[str] | None = None
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    url: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.write_key, str) or not self.write_key.strip():
            raise ConfigError("write_key", "is required (a non-empty str)")
        if not _WRITE_KEY.fullmatch(self.write_key):  # the message never repeats the key
            raise ConfigError(
                "write_key", "must be printable ASCII without spaces (it is sent in an HTTP header)"
            )
        set_ = object.__setattr__  # attrs frozen: normalise values once, here
        set_(self, "url", batch_url(self.host, self.path))
        if isinstance(self.flush_at, bool) or not isinstance(self.flush_at, int):
            raise ConfigError("flush_at", f"must be an int, not {self.flush_at!r}")
        if self.flush_at > MAX_FLUSH_AT:
            raise ConfigError("flush_at", f"must be at most {MAX_FLUSH_AT} (the API's batch limit)")
        set_(self, "flush_at", max(1, self.flush_at))
        set_(self, "flush_interval", _number("flush_interval", self.flush_interval))
        _integer("max_retries", self.max_retries, minimum=0)
        set_(
            self,
            "http_request_timeout",
            _number("http_request_timeout", self.http_request_timeout, allow_equal=False),
        )
        for name in ("max_total_backoff_duration", "max_rate_limit_duration"):
            set_(self, name, _number(name, getattr(self, name)))
        for name in ("disable", "gzip"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(name, f"must be a bool, not {getattr(self, name)!r}")
        if self.http_client is not None and not isinstance(self.http_client, HTTPClient):
            raise ConfigError("http_client", "must have async send(request) and aclose() methods")
        _integer("max_queue_size", self.max_queue_size, minimum=1)
        if self.queue_full not in ("drop", "wait"):
            raise ConfigError("queue_full", f'must be "drop" or "wait", not {self.queue_full!r}')
        _integer("max_in_flight", self.max_in_flight, minimum=1)
        _check_proxy(self.proxy, self.http_client)
        _check_ssl(self.ssl, self.http_client)
        _check_spool(self.spool)
        _integer("spool_max_bytes", self.spool_max_bytes, minimum=1)
        if not isinstance(self.clock, Clock):
            raise ConfigError("clock", "must have time() and call_at(when, callback) methods")

    @property
    def close_timeout(self) -> float:
        """The default timeout of `close_and_flush()`: max(60, flush_interval) * 1.25 seconds."""
        return max(60.0, self.flush_interval) * 1.25
