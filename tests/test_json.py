"""Both JSON backends convert the same values the same way."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any

import pytest

from analytics_async import ValidationError
from analytics_async._message.codec import BACKEND, dumps, stdlib_dumps


class Color(Enum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


@dataclass
class Point:
    x: int
    y: int


VALUES: dict[str, Any] = {
    "s": "text é", "i": 3, "f": 1.5, "b": True, "n": None, "list": [1, [2]], "tuple": (1, 2),
    "dt": datetime(2020, 1, 1, 1, 2, 3, 456789, tzinfo=UTC), "naive": datetime(2020, 1, 1),
    "date": date(2020, 1, 1), "time": time(12, 30), "dec": Decimal("1.25"), "dec_nan": Decimal("NaN"),
    "uuid": uuid.UUID(int=5), "enum": Color.RED, "intenum": Level.HIGH, "set": {3, 1},
    "mixed_set": {1, "a"}, "point": Point(1, 2), "nan": float("nan"), "ninf": float("-inf"), "big": 10**30,
    "keys": {1: "a", None: "b"},
}  # fmt: skip


@pytest.mark.parametrize("encode", [dumps, stdlib_dumps], ids=[BACKEND, "stdlib"])
def test_conversions(encode: Any) -> None:
    """Every supported type converts to the documented JSON, compactly, as UTF-8."""
    raw = encode(VALUES)
    assert b" " not in raw.replace(b"text \xc3\xa9", b"")
    out = json.loads(raw)
    assert out["s"] == "text é"
    assert out["tuple"] == [1, 2]
    assert out["dt"] == "2020-01-01T01:02:03.456Z"
    assert out["naive"] == "2020-01-01T00:00:00.000Z"
    assert out["date"] == "2020-01-01"
    assert out["time"] == "12:30:00"
    assert out["dec"] == 1.25
    assert out["dec_nan"] is None
    assert out["uuid"] == str(uuid.UUID(int=5))
    assert out["enum"] == "red"
    assert out["intenum"] == 3
    assert out["set"] == [1, 3]
    assert sorted(map(str, out["mixed_set"])) == ["1", "a"]
    assert out["point"] == {"x": 1, "y": 2}
    assert out["nan"] is None
    assert out["ninf"] is None
    assert out["big"] == 10**30
    assert out["keys"] == {"1": "a", "null": "b"}


@pytest.mark.parametrize("encode", [dumps, stdlib_dumps], ids=[BACKEND, "stdlib"])
def test_bad_values_name_their_path(encode: Any) -> None:
    """An unconvertible value or key raises ValidationError with its dotted path."""
    with pytest.raises(ValidationError) as info:
        encode({"properties": {"a": [0, {"b": b"bytes"}]}})
    assert info.value.field == "properties.a.1.b"
    with pytest.raises(ValidationError) as info:
        encode({"traits": {(1, 2): "tuple key"}})
    assert info.value.field == "traits"


class _Armed:
    """Subclasses whose dunder methods raise once armed (after the test data is built)."""

    on = False


class RaisingStrKey(str):
    def __str__(self) -> str:
        raise RuntimeError("__str__")

    def __hash__(self) -> int:
        if _Armed.on:
            raise RuntimeError("__hash__")
        return str.__hash__(self)

    def __eq__(self, other: object) -> bool:
        if _Armed.on:
            raise RuntimeError("__eq__")
        return str.__eq__(self, other)


class RaisingList(list[int]):
    def __iter__(self) -> Any:
        raise RuntimeError("__iter__")


class RaisingDict(dict[str, int]):
    def __iter__(self) -> Any:
        raise RuntimeError("__iter__")

    def items(self) -> Any:  # noqa: D102 - raises
        raise RuntimeError("items")


class RaisingInt(int):
    def __float__(self) -> float:
        raise RuntimeError("__float__")

    def __index__(self) -> int:
        raise RuntimeError("__index__")

    def __int__(self) -> int:
        raise RuntimeError("__int__")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__")


@pytest.mark.parametrize("encode", [dumps, stdlib_dumps], ids=[BACKEND, "stdlib"])
@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ({RaisingStrKey("cart"): 1}, {"cart": 1}),
        ({"cart": RaisingStrKey("total")}, {"cart": "total"}),
        ({"cart": RaisingList([1, 2])}, {"cart": [1, 2]}),
        ({"cart": RaisingDict(total=3)}, {"cart": {"total": 3}}),
        ({"cart": RaisingInt(7)}, {"cart": 7}),
        ({RaisingStrKey("cart"): RaisingInt(7), "big": [RaisingList([1])]}, {"cart": 7, "big": [[1]]}),
    ],
    ids=["str-key", "str-value", "list", "dict", "int", "mixed"],
)
def test_subclasses_whose_dunders_raise_are_read_as_their_base_type(
    encode: Any, value: dict[Any, Any], sent: dict[str, Any]
) -> None:
    """str/int/list/dict subclasses are read through the base type, as orjson reads them.

    Their __str__, __hash__, __eq__, __iter__, items, __int__ and __float__ are never called.
    """
    _Armed.on = True
    try:
        assert json.loads(encode({"properties": value})) == {"properties": sent}
    finally:
        _Armed.on = False


@pytest.mark.parametrize("encode", [dumps, stdlib_dumps], ids=[BACKEND, "stdlib"])
def test_a_raising_subclass_beside_a_bad_value_still_names_the_path(encode: Any) -> None:
    """The precise path reads the subclasses safely and names the value it cannot send."""
    message = {"properties": {RaisingStrKey("cart"): {"items": RaisingList([1]), "bad": object()}}}
    _Armed.on = True
    try:
        with pytest.raises(ValidationError) as raised:
            encode(message)
    finally:
        _Armed.on = False
    assert raised.value.field == "properties.cart.bad"


async def test_the_call_raises_validation_error_never_runtime_error() -> None:
    """At the call: a str-subclass key whose __str__ raises is sent as its text, not a RuntimeError."""
    from analytics_async import Analytics  # noqa: PLC0415
    from analytics_async.testing import RecordingClient  # noqa: PLC0415

    http = RecordingClient()
    analytics = Analytics(write_key="k", http_client=http)
    await analytics.track(event="E", user_id="u", properties={RaisingStrKey("cart"): {"total": 1}})
    await analytics.identify(user_id="u", traits={"nested": {RaisingStrKey("plan"): "pro"}})
    await analytics.flush(close=True, timeout=5)
    assert [e.get("properties", e.get("traits")) for e in http.events] == [
        {"cart": {"total": 1}},
        {"nested": {"plan": "pro"}},
    ]
