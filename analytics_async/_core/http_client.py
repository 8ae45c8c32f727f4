"""The HTTP seam: one `send` method between the library and any HTTP implementation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final, Protocol, runtime_checkable

import attrs

__all__ = ["HTTPClient", "HTTPRequest", "HTTPResponse", "Headers", "redact_headers"]

_SECRET_HEADERS: Final = frozenset({"authorization", "proxy-authorization"})


class Headers(Mapping[str, str]):
    """An immutable header mapping with case-insensitive lookup that keeps the names it was given."""

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self._items = {k.lower(): (k, v) for k, v in (headers or {}).items()}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __repr__(self) -> str:
        return f"Headers({dict(redact_headers(self))!r})"


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of `headers` with credentials replaced by `<redacted>`."""
    return {k: ("<redacted>" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


def _to_headers(value: Mapping[str, str] | None) -> Headers:
    return value if isinstance(value, Headers) else Headers(value)


@attrs.frozen
class HTTPRequest:
    """One HTTP attempt: `body` is already encoded; `timeout` is the attempt's limit in seconds."""

    url: str
    method: str
    headers: Mapping[str, str] = attrs.field(repr=lambda h: repr(redact_headers(h)))
    body: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    timeout: float


@attrs.frozen
class HTTPResponse:
    """An HTTP answer: `headers` look up names case-insensitively; `text` is the body if read."""

    status: int
    reason: str = ""
    headers: Headers = attrs.field(factory=Headers, converter=_to_headers)
    text: str | None = None


@runtime_checkable
class HTTPClient(Protocol):
    """What the library needs from an HTTP implementation.

    `send` performs one request and returns whatever status the server answered. It raises
    `analytics_async.errors.TransportError` (or any exception, which is taken as one) when no answer
    came. The library cancels `send` when the attempt's timeout passes or a closing flush runs out of
    time, so implementations must be cancellation-safe. A client passed in by the user is never closed
    by the library; `aclose` is called only on clients the library created.
    """

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Perform `request` and return the response."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
