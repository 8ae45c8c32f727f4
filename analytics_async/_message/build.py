"""Building and validating the six message types (analytics-node-behavior.md §4, DECISIONS.md).

Builders copy every mapping the caller passes before anything is written into it, so a caller's
`context`, `properties`, `traits` or `integrations` is never changed by the library.
"""

from __future__ import annotations

import os
import platform
import random
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from .._version import __version__
from ..errors import EventTooLargeError, ValidationError
from .codec import dumps, iso_utc

__all__ = ["LIBRARY_NAME", "MAX_EVENT_BYTES", "Message", "build", "reseed_ids", "serialize"]

Message = dict[str, Any]

MAX_EVENT_BYTES: Final = 32 * 1024
"""The Tracking API's limit for one event's JSON."""
LIBRARY_NAME: Final = "analytics-async"
_PYTHON_VERSION: Final = platform.python_version()
_PYTHON_IMPLEMENTATION: Final = platform.python_implementation()

# Message ids: uuid4-format strings from a private generator seeded by os.urandom. Private, so that
# an application calling random.seed() can never make ids repeat (Segment deduplicates on them);
# reseeded in forked children so that a pre-fork server's workers never share a sequence (by
# os.register_at_fork, and by `_core.fork` for servers that fork in C without Python's hooks: uWSGI).
_ids = random.Random()  # noqa: S311 - uniqueness, not secrecy: 122 random bits per id
reseed_ids = _ids.seed
"""Start a new sequence of message ids from fresh OS randomness (in a forked child)."""
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=reseed_ids)
_UUID4_BITS: Final = (4 << 76) | (2 << 62)
_UUID4_MASK: Final = ~((0xF << 76) | (0x3 << 62))


def new_message_id() -> str:
    """A random uuid4 string (about 2.5x cheaper than `str(uuid.uuid4())`)."""
    h = f"{(_ids.getrandbits(128) & _UUID4_MASK) | _UUID4_BITS:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_second: int = -1
_second_text: str = ""
_milli: int = -1
_milli_text: str = ""


def now_iso() -> str:
    """Return the current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ` (cached per millisecond and second).

    A burst makes dozens of events per millisecond: they share one string.
    """
    global _second, _second_text, _milli, _milli_text  # noqa: PLW0603 - one-entry caches on the hot path
    milli = int(time.time() * 1000)
    if milli != _milli:
        second = milli // 1000
        if second != _second:
            _second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            _second = second
        _milli_text = f"{_second_text}.{milli % 1000:03d}Z"
        _milli = milli
    return _milli_text


def _id(field: str, value: object) -> str | None:
    """An id is a str (an int is sent as its decimal string); '' counts as absent."""
    if type(value) is str:  # the common case first: an exact str needs no conversion
        return value or None
    if value is None:
        return None
    if isinstance(value, str):
        return str(value) or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValidationError(field, f"must be a str or an int, not {type(value).__name__}")


def _mapping(field: str, value: object) -> dict[str, Any]:
    if type(value) is dict:  # the common case first: skips the slower Mapping ABC check
        return dict(value)
    if value is None:
        return {}
    if isinstance(value, Mapping):
        try:
            return dict(value)
        except Exception:  # noqa: BLE001 - a user Mapping may raise anything while being read
            raise ValidationError(field, f"could not be read (a {type(value).__name__} raised)") from None
    raise ValidationError(field, f"must be a mapping (dict) or None, not {type(value).__name__}")


def _optional_str(field: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValidationError(field, f"must be a str or None, not {type(value).__name__}")


def _timestamp(value: object) -> str:
    if value is None:
        return now_iso()
    if isinstance(value, datetime):
        try:
            return iso_utc(value)
        except OverflowError:
            raise ValidationError("timestamp", "is out of range once converted to UTC") from None
    if isinstance(value, str):
        return value
    raise ValidationError("timestamp", f"must be a datetime, a str or None, not {type(value).__name__}")


def build(
    type_: str,
    fields: Mapping[str, Any],
    *,
    user_id: object,
    anonymous_id: object,
    context: object,
    timestamp: object,
    integrations: object,
    message_id: object,
    require_both_ids: bool = False,
) -> Message:
    """Return the wire message of `type_` with the common fields added, or raise ValidationError.

    `fields` holds the type-specific wire fields, already validated by the caller. Identity: by
    default `user_id` or `anonymous_id` is required; `require_both_ids` (alias) requires `user_id`.
    """
    # `_id`'s common cases inlined (an exact str, an absent id): a Python call costs ~450 instructions.
    uid = (user_id or None) if type(user_id) is str else _id("user_id", user_id)
    aid = None if anonymous_id is None else _id("anonymous_id", anonymous_id)
    if require_both_ids:
        if uid is None:
            raise ValidationError("user_id", "is required for alias (a non-empty str or int)")
    elif uid is None and aid is None:
        raise ValidationError("user_id", "user_id or anonymous_id is required (non-empty)")
    if message_id is None or message_id == "":
        mid = new_message_id()
    elif isinstance(message_id, str):
        mid = message_id
    else:
        raise ValidationError("message_id", f"must be a str or None, not {type(message_id).__name__}")
    ctx = {} if context is None else _mapping("context", context)
    ctx["library"] = {"name": LIBRARY_NAME, "version": __version__}
    message: Message = {"type": type_, **fields}
    if uid is not None:
        message["userId"] = uid
    if aid is not None:
        message["anonymousId"] = aid
    message["context"] = ctx
    message["integrations"] = {} if integrations is None else _mapping("integrations", integrations)
    message["timestamp"] = now_iso() if timestamp is None else _timestamp(timestamp)
    message["messageId"] = mid
    message["_metadata"] = {
        "pythonVersion": _PYTHON_VERSION,
        "pythonImplementation": _PYTHON_IMPLEMENTATION,
    }
    return message


def serialize(message: dict[str, Any]) -> bytes:
    """The event's JSON, or ValidationError / EventTooLargeError raised at the call."""
    payload = dumps(message)
    if len(payload) > MAX_EVENT_BYTES:
        raise EventTooLargeError(len(payload), MAX_EVENT_BYTES)
    return payload


def track_fields(event: object, properties: object) -> dict[str, Any]:
    """Wire fields of a track call."""
    if not isinstance(event, str) or not event:
        given = "an empty str" if isinstance(event, str) else type(event).__name__
        raise ValidationError("event", f"must be a non-empty str, not {given}")
    props = dict(properties) if type(properties) is dict else _mapping("properties", properties)  # inlined
    return {"event": event, "properties": props}


def traits_fields(traits: object) -> dict[str, Any]:
    """Wire fields of an identify call."""
    return {"traits": _mapping("traits", traits)}


def group_fields(group_id: object, traits: object) -> dict[str, Any]:
    """Wire fields of a group call."""
    gid = _id("group_id", group_id)
    if gid is None:
        raise ValidationError("group_id", "is required (a non-empty str or int)")
    return {"groupId": gid, "traits": _mapping("traits", traits)}


def page_fields(
    category: object, name: object, properties: object, *, category_in_properties: bool
) -> dict[str, Any]:
    """Wire fields of a page or screen call; a page also copies `category` into its properties."""
    cat = _optional_str("category", category)
    nam = _optional_str("name", name)
    props = _mapping("properties", properties)
    fields: dict[str, Any] = {"properties": props}
    if cat is not None:
        fields["category"] = cat
        if category_in_properties:
            props["category"] = cat
    if nam is not None:
        fields["name"] = nam
    return fields


def alias_fields(previous_id: object) -> dict[str, Any]:
    """Wire fields of an alias call."""
    pid = _id("previous_id", previous_id)
    if pid is None:
        raise ValidationError("previous_id", "is required for alias (a non-empty str or int)")
    return {"previousId": pid}
