"""The six calls (`track`, `identify`, `page`, `screen`, `group`, `alias`): build, validate, hand over.

Each call builds its message on the caller's side (raising `ValidationError` there, at the call) and
hands it to the runtime, which queues it. `Analytics` adds the lifecycle, plugins and events.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from . import _message as msg
from ._accept import Accepted
from ._context import Callback, Context
from ._runtime import Runtime
from .errors import ValidationError

__all__ = ["Calls"]

Timestamp = datetime | str | None
Properties = Mapping[str, Any] | None
Id = str | int | None


class Calls:
    """The six calls of `Analytics`; each returns a `Context` once its event is queued, or raises.

    A call that raises accepted nothing: `ValidationError` (its `field` names the argument) for bad
    input, `CancelledError` when the caller is cancelled while its event waits for plugins or room.
    """

    _runtime: Runtime

    async def track(
        self,
        *,
        event: str,
        user_id: Id = None,
        anonymous_id: Id = None,
        properties: Properties = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Record that a user did `event`. Returns once the event is queued."""
        fields = msg.track_fields(event, properties)
        result = self._accept("track", fields, user_id, anonymous_id, context, timestamp,
                                  integrations, message_id, callback)  # fmt: skip
        return result if isinstance(result, Context) else await result

    async def identify(
        self,
        *,
        user_id: Id = None,
        anonymous_id: Id = None,
        traits: Properties = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Tie a user to their traits. Returns once the event is queued."""
        fields = msg.traits_fields(traits)
        result = self._accept("identify", fields, user_id, anonymous_id, context, timestamp,
                                  integrations, message_id, callback)  # fmt: skip
        return result if isinstance(result, Context) else await result

    async def page(
        self,
        *,
        user_id: Id = None,
        anonymous_id: Id = None,
        category: str | None = None,
        name: str | None = None,
        properties: Properties = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Record a page view; `category` is also copied into the properties. Returns once queued."""
        fields = msg.page_fields(category, name, properties, category_in_properties=True)
        result = self._accept("page", fields, user_id, anonymous_id, context, timestamp,
                                  integrations, message_id, callback)  # fmt: skip
        return result if isinstance(result, Context) else await result

    async def screen(
        self,
        *,
        user_id: Id = None,
        anonymous_id: Id = None,
        category: str | None = None,
        name: str | None = None,
        properties: Properties = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Record a mobile screen view. Returns once the event is queued."""
        fields = msg.page_fields(category, name, properties, category_in_properties=False)
        result = self._accept("screen", fields, user_id, anonymous_id, context, timestamp,
                                  integrations, message_id, callback)  # fmt: skip
        return result if isinstance(result, Context) else await result

    async def group(
        self,
        *,
        group_id: str | int,
        user_id: Id = None,
        anonymous_id: Id = None,
        traits: Properties = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Associate a user with group `group_id`. Returns once the event is queued."""
        fields = msg.group_fields(group_id, traits)
        result = self._accept("group", fields, user_id, anonymous_id, context, timestamp,
                                  integrations, message_id, callback)  # fmt: skip
        return result if isinstance(result, Context) else await result

    async def alias(
        self,
        *,
        user_id: str | int,
        previous_id: str | int,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Tell Segment that `previous_id` and `user_id` are the same user. Returns once queued."""
        fields = msg.alias_fields(previous_id)
        result = self._accept("alias", fields, user_id, None, context, timestamp,
                                  integrations, message_id, callback, alias=True)  # fmt: skip
        return result if isinstance(result, Context) else await result

    def _accept(  # noqa: PLR0917 - internal; mirrors the keyword-only public calls
        self,
        type_: str,
        fields: dict[str, Any],
        user_id: object,
        anonymous_id: object,
        context: object,
        timestamp: object,
        integrations: object,
        message_id: object,
        callback: Callback | None,
        *,
        alias: bool = False,
    ) -> Accepted:
        """Build and validate the message (raising here, at the call), then hand it to the runtime.

        The runtime returns the Context at once in the common case, so no second coroutine is made.
        """
        if callback is not None and not callable(callback):
            raise ValidationError("callback", f"must be callable, not {type(callback).__name__}")
        message = msg.build(type_, fields, user_id=user_id, anonymous_id=anonymous_id,
                            context=context, timestamp=timestamp, integrations=integrations,
                            message_id=message_id, require_both_ids=alias)  # fmt: skip
        return self._runtime.accept(message, callback)
