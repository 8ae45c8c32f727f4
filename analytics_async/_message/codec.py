"""JSON encoding of events: predictable conversion of non-JSON values, serialized exactly once.

The fast path hands the message to orjson (CPython) or the stdlib encoder (elsewhere) with a `default`
hook for the extra types. Only when that fails do we walk the value in Python, which either produces a
JSON-native copy (big ints, NaN, odd keys) or raises `ValidationError` naming the offending path.

Conversions (the same on both backends):
- datetime -> ISO 8601 UTC with milliseconds and `Z` (naive datetimes are taken as UTC); date, time ->
  `isoformat()`; Decimal -> float; UUID -> str; Enum -> its value; set/frozenset -> list (sorted when
  the items allow it); tuple -> list; dataclass instances -> objects.
- NaN and infinities -> null, so the wire never carries invalid JSON.
- Mapping keys that are int, float, bool or None become strings, as `json` does; two keys that become
  the same string are refused rather than one silently lost.

Known limit: orjson (3.13) crashes the process on an `Enum` member whose `value` property raises; it
reads enums natively, before any hook of ours. Such an Enum is a programming error, not data.

Refused with `ValidationError` naming the path: strings or keys with lone surrogates (not UTF-8),
nesting deeper than `MAX_DEPTH`, integers above `MAX_INT_BITS` bits, circular references, values of
other types, and values whose conversion fails (a datetime out of range once in UTC).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Final

from ..errors import ValidationError

__all__ = ["BACKEND", "dumps", "iso_utc", "loads", "stdlib_dumps"]

_CONVERSION_FAILED: Final = "cannot be converted to JSON"
MAX_DEPTH: Final = 100
"""Levels of nesting an event may have (orjson refuses more than 254; 32 KB of JSON rarely needs 10)."""
MAX_INT_BITS: Final = 1024
"""Bits of the largest integer sent (about 308 digits; a JSON consumer reads numbers as doubles)."""


def iso_utc(value: datetime) -> str:
    """Format `value` as `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC; a naive datetime is taken as UTC."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _convert(obj: Any) -> Any:  # noqa: PLR0911 - one return per supported type
    """Return a JSON-serializable stand-in for one non-native value, or raise TypeError."""
    if isinstance(obj, datetime):
        return iso_utc(obj)
    if isinstance(obj, date | time):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        return float(obj) if obj.is_finite() else None
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, set | frozenset):
        try:
            return sorted(obj)
        except TypeError:
            return list(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    raise TypeError(type(obj).__name__)


def _key(key: object, path: str) -> str:
    if type(key) is str:
        return key
    if isinstance(key, str):  # a subclass: its own __str__, __hash__ or __eq__ are never called
        return str.__str__(key)
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    if isinstance(key, int | float):
        return json.dumps(_finite(key))
    raise ValidationError(path, f"has a key of type {type(key).__name__}; keys must be strings")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _text(value: str, path: str, what: str = "a string") -> str:
    """`value`, if it can be sent as UTF-8 (a lone surrogate cannot)."""
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise ValidationError(
            path, f"has {what} with a lone surrogate at position {exc.start}, which UTF-8 cannot carry"
        ) from None
    return value


def _integer(value: int, path: str) -> int:
    """`value`, unless it is too large to be written out as a JSON number."""
    if value.bit_length() > MAX_INT_BITS:
        raise ValidationError(
            path, f"is an integer of {value.bit_length()} bits; at most {MAX_INT_BITS} are sent"
        )
    return value


def _normalize(obj: Any, path: str, seen: set[int], depth: int = 0) -> Any:  # noqa: PLR0911
    """Walk `obj` and return a JSON-native copy, or raise ValidationError naming the path."""
    # Subclasses of str, int and float are read through the base type's own methods: their
    # overridden dunders (which may raise) are never called, as orjson never calls them either.
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, str):
        return _text(obj if type(obj) is str else str.__str__(obj), path)
    if isinstance(obj, int):
        return _integer(obj if type(obj) is int else int.__int__(obj), path)
    if isinstance(obj, float):
        return _finite(obj if type(obj) is float else float.__float__(obj))
    if depth >= MAX_DEPTH:
        raise ValidationError(path, f"is nested more than {MAX_DEPTH} levels deep")
    if isinstance(obj, Mapping | list | tuple):
        if id(obj) in seen:
            raise ValidationError(path, "contains a circular reference")
        seen.add(id(obj))
        try:
            if isinstance(obj, Mapping):
                return _normalize_mapping(obj, path, seen, depth)
            try:  # a subclass through the base type's iterator, as orjson reads it
                values = list(list.__iter__(obj)) if isinstance(obj, list) else list(tuple.__iter__(obj))
            except Exception:  # noqa: BLE001 - a user sequence may raise anything while being read
                raise ValidationError(path, f"could not be read (a {type(obj).__name__} raised)") from None
            return [_normalize(v, f"{path}.{i}", seen, depth + 1) for i, v in enumerate(values)]
        finally:
            seen.discard(id(obj))
    try:
        converted = _convert(obj)
    except Exception:  # noqa: BLE001 - user objects may raise anything while being read
        raise ValidationError(path, f"{_CONVERSION_FAILED} (a {type(obj).__name__})") from None
    return _normalize(converted, path, seen, depth + 1)


def _normalize_mapping(obj: Mapping[Any, Any], path: str, seen: set[int], depth: int) -> dict[str, Any]:
    try:  # a dict subclass through dict's own items, as orjson reads it
        items = list(dict.items(obj)) if isinstance(obj, dict) else list(obj.items())
    except Exception:  # noqa: BLE001 - a user Mapping may raise anything while being read
        raise ValidationError(path, f"could not be read (a {type(obj).__name__} raised)") from None
    out: dict[str, Any] = {}
    for k, v in items:
        key = _text(_key(k, path), path, "a key")
        if key in out:
            raise ValidationError(path, f"has two keys that are both sent as {key!r}; one would be lost")
        out[key] = _normalize(v, f"{path}.{key}", seen, depth + 1)
    return out


def _normalize_message(message: Mapping[str, Any]) -> dict[str, Any]:
    seen: set[int] = set()
    return {key: _normalize(value, key, seen) for key, value in message.items()}


_std_encode: Callable[[Any], str] = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_convert
).encode


def stdlib_dumps(message: Mapping[str, Any]) -> bytes:
    """Serialize a message with the standard library (the fallback backend)."""
    try:
        return _std_encode(message).encode()
    except Exception:  # noqa: BLE001 - anything a user value raised: the precise path names it or copes
        return _std_encode(_normalize_message(message)).encode()


Dumps = Callable[[Mapping[str, Any]], bytes]
Loads = Callable[[bytes], Any]


def _select_backend() -> tuple[str, Dumps, Loads]:
    """Choose orjson where it is installed (CPython), else the stdlib encoder and decoder."""
    try:
        import orjson  # noqa: PLC0415 - optional backend, chosen once at import
    except ImportError:  # pragma: no cover - orjson is a dependency on CPython
        return "json", stdlib_dumps, json.loads
    # Not OPT_NON_STR_KEYS: it doubles the cost of every event; rare non-str keys take the slow path.
    options = orjson.OPT_PASSTHROUGH_DATETIME
    orjson_dumps, orjson_error = orjson.dumps, orjson.JSONEncodeError

    def orjson_backend(message: Mapping[str, Any]) -> bytes:
        """Serialize a message to compact UTF-8 JSON bytes, converting what JSON cannot carry.

        Raises:
            ValidationError: a value cannot be converted; `field` is its dotted path.
        """
        try:
            # orjson's result keeps its whole output buffer (about 4 KB for a 0.5 KB event); a queued
            # event lives for seconds, so copy it to its real size (about 190 ns, 8x less memory).
            return b"".join((orjson_dumps(message, default=_convert, option=options), b""))
        except (orjson_error, TypeError):
            # Big ints, odd key types, cycles, unsupported types: the slow, precise path raises
            # ValidationError naming the path, or yields native JSON.
            return stdlib_dumps(_normalize_message(message))

    return "orjson", orjson_backend, orjson.loads


BACKEND, dumps, loads = _select_backend()
"""`dumps(message) -> bytes`: compact UTF-8 JSON; raises ValidationError naming a bad value's path.
`loads(data)`: parse JSON bytes with the same backend."""
