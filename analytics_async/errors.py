"""The exceptions of analytics-async, one tree rooted at `AnalyticsError`.

```
AnalyticsError
├── ConfigError (also ValueError)          bad settings, raised by Analytics(...)
├── ValidationError (also ValueError)      bad call arguments, raised by track(...) etc.; `.field`
│   ├── EventTooLargeError                 an event above 32 KB of JSON; `.size`
│   └── PlanViolationError                 an event breaks its tracking plan rule; `.violation`
├── ClosedError                            the event was sent to a closed Analytics
├── DeliveryError                          why an accepted event was not delivered
│   ├── HTTPStatusError                    a final HTTP status; `.status`, "[503] Service Unavailable"
│   ├── TransportError                     network failures and per-attempt timeouts
│   │   └── CertificateError               the server's TLS certificate failed verification (not retried)
│   ├── FlushTimeoutError                  a closing flush ran out of time first
│   │   └── SpooledError                   ... and the event was kept in the spool for the next instance
│   ├── RateLimitExceededError             rate limited for longer than max_rate_limit_duration
│   └── QueueFullError                     max_queue_size was reached with queue_full="drop"
├── AuthError                              OAuth token failures
└── ContextCancelation                     a plugin cancelled the event (ctx.cancel())
```

Raised errors (`ConfigError`, `ValidationError`) reach the caller at the call site. Delivery problems are
never raised to the caller: they reach the per-call callback, the `error` event and `ctx.failed_delivery()`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnalyticsError",
    "AuthError",
    "CertificateError",
    "ClosedError",
    "ConfigError",
    "ContextCancelation",
    "DeliveryError",
    "EventTooLargeError",
    "FlushTimeoutError",
    "HTTPStatusError",
    "PlanViolationError",
    "QueueFullError",
    "RateLimitExceededError",
    "SpooledError",
    "TransportError",
    "ValidationError",
]


class AnalyticsError(Exception):
    """The root of every exception analytics-async raises or reports."""


class ConfigError(AnalyticsError, ValueError):
    """A setting given to `Analytics(...)` is missing or invalid; the message names the setting."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


class ValidationError(AnalyticsError, ValueError):
    """A call's argument is invalid; `field` names it (a dotted path for nested values)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class EventTooLargeError(ValidationError):
    """The event's JSON is larger than the Tracking API's 32 KB per-event limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__("event", f"the event is {size} bytes of JSON, above the limit of {limit}")
        self.size = size
        self.limit = limit


class PlanViolationError(ValidationError):
    """An event breaks its tracking plan rule (or has none); `field` is the failing JSON path.

    `violation` is the `analytics_async.plans.PlanViolation` saying which event, rule and path.
    """

    def __init__(self, violation: Any) -> None:  # noqa: ANN401 - a PlanViolation; errors import nothing
        super().__init__(violation.path, violation.describe())
        self.violation = violation


class ClosedError(AnalyticsError):
    """The call was made after the instance was closed; the event was not sent."""


class DeliveryError(AnalyticsError):
    """Base class of the reasons an accepted event was not delivered."""


class HTTPStatusError(DeliveryError):
    """The Tracking API answered with a status that is final (or retries ran out)."""

    def __init__(self, status: int, reason: str, detail: str | None = None) -> None:
        text = f"[{status}] {reason}"
        super().__init__(f"{text} ({detail})" if detail else text)
        self.status = status
        self.reason = reason


class TransportError(DeliveryError):
    """The request did not get an HTTP answer: connection failure, reset, or per-attempt timeout."""


class CertificateError(TransportError):
    """The server's TLS certificate failed verification: a final failure, never retried.

    Retrying cannot help (the certificate or the trust store must change): the message names the
    host and OpenSSL's reason. See docs/configuration.md, "TLS".
    """


class FlushTimeoutError(DeliveryError):
    """A closing flush reached its timeout before this event was delivered."""


class SpooledError(FlushTimeoutError):
    """A closing flush ran out of time, and the event was kept in the spool (`spool=`).

    Not delivered by this instance; the next instance with the same spool file and write key sends it,
    with the same messageId.
    """


class RateLimitExceededError(DeliveryError):
    """The API kept answering 429 for longer than `max_rate_limit_duration`."""


class QueueFullError(DeliveryError):
    """The in-memory queue held `max_queue_size` events and the overflow policy is "drop"."""


class AuthError(AnalyticsError):
    """An OAuth access token could not be obtained."""


class ContextCancelation(AnalyticsError):  # noqa: N818 - the name is part of the public contract
    """A plugin cancelled the event; `retry`, `type` and `reason` describe the cancelation."""

    def __init__(self, *, retry: bool = True, type: str = "plugin Error", reason: str = "") -> None:  # noqa: A002
        super().__init__(reason or type)
        self.retry = retry
        self.type = type
        self.reason = reason
