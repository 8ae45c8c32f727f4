"""analytics-async: the asyncio-native client for Segment's Tracking API.

```python
from analytics_async import Analytics

async with Analytics(write_key="...") as analytics:
    await analytics.track(event="Item Purchased", user_id="u1", properties={"revenue": 39.95})
```
"""

from ._core.clock import Clock, TimerHandle
from ._core.events import ErrorEvent, FlushEvent, HTTPRequestEvent, HTTPResponseEvent
from ._core.http_client import Headers, HTTPClient, HTTPRequest, HTTPResponse
from ._core.stats import Stats
from ._delivery.oauth import OAuthSettings
from ._lifecycle.client import Analytics
from ._lifecycle.plugin import Plugin, PluginType, SimplePlugin
from ._message.context import Context, FailedDelivery, LogLine
from ._version import __version__
from .errors import (
    AnalyticsError,
    AuthError,
    CertificateError,
    ClosedError,
    ConfigError,
    ContextCancelation,
    DeliveryError,
    EventTooLargeError,
    FlushTimeoutError,
    HTTPStatusError,
    PlanViolationError,
    QueueFullError,
    RateLimitExceededError,
    SpooledError,
    TransportError,
    ValidationError,
)

__all__ = [
    "Analytics",
    "AnalyticsError",
    "AuthError",
    "CertificateError",
    "Clock",
    "ClosedError",
    "ConfigError",
    "Context",
    "ContextCancelation",
    "DeliveryError",
    "ErrorEvent",
    "EventTooLargeError",
    "FailedDelivery",
    "FlushEvent",
    "FlushTimeoutError",
    "HTTPClient",
    "HTTPRequest",
    "HTTPRequestEvent",
    "HTTPResponse",
    "HTTPResponseEvent",
    "HTTPStatusError",
    "Headers",
    "LogLine",
    "OAuthSettings",
    "PlanViolationError",
    "Plugin",
    "PluginType",
    "QueueFullError",
    "RateLimitExceededError",
    "SimplePlugin",
    "SpooledError",
    "Stats",
    "TimerHandle",
    "TransportError",
    "ValidationError",
    "__version__",
]
