"""Sync and threaded code: a drop-in for segment-analytics-python 2.4.0, and threads into async apps.

Migrating from the official SDK is one import line:

```python
import analytics_async.sync as analytics  # was: import segment.analytics as analytics

analytics.write_key = "YOUR_WRITE_KEY"
analytics.track("user-1", "Signed Up", {"plan": "pro"})  # returns (True, message) at once
analytics.flush()  # blocks until everything queued has been sent
```

- `Client` takes the same constructor parameters and has the same methods and return values as
  segment-analytics-python's `Client`. Calls from any thread validate in that thread, return at once
  and hand the event to one background event-loop thread that batches and sends it. Exit hooks (`atexit`,
  and the exits of multiprocessing, billiard and Celery child processes) close every client with a
  bounded deadline; after `os.fork()` a client starts empty and never
  re-sends its parent's events.
- The module-level API (`write_key`, `host`, `on_error`, `debug`, `send`, `sync_mode`, ...;
  `track`, `identify`, `group`, `alias`, `page`, `screen`, `flush`, `join`, `shutdown`) drives a
  default `Client` made from those settings on first use, as the official SDK does.
- `from_thread(analytics)` lets worker threads of an async app (FastAPI `def` endpoints,
  `run_in_executor`) send through the app's own `Analytics` instance.
"""

from __future__ import annotations

import logging
from typing import Any

from ._threads.dropin import (
    ATEXIT_TIMEOUT,
    APIError,
    Client,
    InvalidCallError,
    InvalidSettingError,
    MessageTooLargeError,
    OnError,
    Result,
    flush_on_signals,
)
from ._threads.threadcall import ThreadCaller, from_thread

__all__ = [
    "ATEXIT_TIMEOUT",
    "APIError",
    "Client",
    "InvalidCallError",
    "InvalidSettingError",
    "MessageTooLargeError",
    "ThreadCaller",
    "alias",
    "flush",
    "flush_on_signals",
    "from_thread",
    "group",
    "identify",
    "join",
    "page",
    "screen",
    "shutdown",
    "track",
]

# -- the module-level API, as segment.analytics --------------------------------------------------

write_key: str | None = None
host: str | None = None
on_error: OnError | None = None
debug: bool = False
log_handler: logging.Handler | None = None
send: bool = True
sync_mode: bool = False
max_queue_size: int = 10000
gzip: bool = False
timeout: float = 15
max_retries: int = 10
oauth_client_id: str | None = None
oauth_client_key: str | None = None
oauth_key_id: str | None = None
oauth_auth_server: str = "https://oauth2.segment.io"
oauth_scope: str = "tracking_api:write"
spool: str | None = None
"""Ours, not the official SDK's: a file keeping what the exit could not deliver (`Client(spool=)`)."""
default_client: Client | None = None


def _default() -> Client:
    global default_client  # noqa: PLW0603 - the official SDK's module-level client
    if default_client is None:
        default_client = Client(write_key, host=host, debug=debug, max_queue_size=max_queue_size, send=send,
                                on_error=on_error, gzip=gzip, max_retries=max_retries, sync_mode=sync_mode,
                                timeout=timeout, log_handler=log_handler, oauth_client_id=oauth_client_id,
                                oauth_client_key=oauth_client_key, oauth_key_id=oauth_key_id,
                                oauth_auth_server=oauth_auth_server, oauth_scope=oauth_scope,
                                spool=spool)  # fmt: skip
    return default_client


def track(*args: Any, **kwargs: Any) -> Result:  # noqa: ANN401
    """Send a track call (the default client's `track`)."""
    return _default().track(*args, **kwargs)


def identify(*args: Any, **kwargs: Any) -> Result:  # noqa: ANN401
    """Send an identify call."""
    return _default().identify(*args, **kwargs)


def group(*args: Any, **kwargs: Any) -> Result:  # noqa: ANN401
    """Send a group call."""
    return _default().group(*args, **kwargs)


def alias(*args: Any, **kwargs: Any) -> Result:  # noqa: ANN401
    """Send an alias call."""
    return _default().alias(*args, **kwargs)


def page(*args: Any, **kwargs: Any) -> Result:  # noqa: ANN401
    """Send a page call."""
    return _default().page(*args, **kwargs)


def screen(*args: Any, **kwargs: Any) -> Result:  # noqa: ANN401
    """Send a screen call."""
    return _default().screen(*args, **kwargs)


def flush(timeout: float | None = None) -> None:
    """Block until the default client has sent everything queued (at most `timeout` seconds: ours)."""
    _default().flush(timeout)


def join(timeout: float | None = None) -> None:
    """Send what is left and stop the default client (within `timeout` seconds, default 75: ours)."""
    _default().join(timeout)


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop the default client (`timeout` as `join`)."""
    _default().shutdown(timeout)
