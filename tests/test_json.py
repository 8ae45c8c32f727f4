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
