"""Property-based tests (hypothesis): the JSON conversion, the paths of bad values, settlement.

Profiles (tests/conftest.py): `default` (quick) and `ci` (thorough: `HYPOTHESIS_PROFILE=ci`, set by
.ci/run).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import enum
import json
import math
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics_async import Analytics, ValidationError
from analytics_async._message.codec import dumps, iso_utc, stdlib_dumps
from analytics_async.testing import FakeClock, ScriptedClient, Step


class Color(enum.Enum):
    RED = "red"
    NUMBER = 7


@dataclasses.dataclass
class Point:
    x: Any
    y: Any


def expected(value: Any) -> Any:
    """The documented conversion (codec.py's module docstring), written independently."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return expected(value.value)
    if isinstance(value, set | frozenset):
        return [expected(v) for v in sorted(value)]
    if isinstance(value, list | tuple):
        return [expected(v) for v in value]
    if isinstance(value, Point):
        return {"x": expected(value.x), "y": expected(value.y)}
    assert isinstance(value, dict)
    return {k: expected(v) for k, v in value.items()}


text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)  # astral characters included
zones = st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))])
scalars = st.one_of(
    st.none(), st.booleans(), text, st.integers(-(2**63), 2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(min_value=datetime(1901, 1, 2), max_value=datetime(9998, 12, 30), timezones=zones),  # type: ignore[arg-type]
    st.dates(), st.times(), st.decimals(allow_nan=True, allow_infinity=True, places=3),
    st.uuids(), st.sampled_from(list(Color)),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(text, inner, max_size=4),
        st.sets(st.integers(-1000, 1000), max_size=4),
        st.frozensets(text, max_size=4),
        st.builds(Point, inner, inner),
    ),
    max_leaves=20,
)


@pytest.mark.parametrize("encode", [dumps, stdlib_dumps], ids=["default", "stdlib"])
@given(value=values)
def test_any_supported_value_is_sent_as_documented_and_left_unchanged(encode: Any, value: Any) -> None:
    """serialize then parse gives the documented conversion; the caller's value is never modified."""
    before = copy.deepcopy(value)
    sent = json.loads(encode({"properties": {"value": value}}))
    assert sent == {"properties": {"value": expected(value)}}
    assert expected(value) == expected(before)  # nothing in it was changed (NaN-safe comparison)


class Unsupported:
    """A type the conversion does not know."""


paths = st.lists(st.one_of(text.filter(lambda k: "." not in k and k != ""), st.integers(0, 3)), max_size=5)


def nest(path: list[str | int], leaf: object, filler: Any) -> Any:
    """`leaf` at `path` (str: a dict key, int: a list index) inside containers padded with `filler`."""
    if not path:
        return leaf
    head, rest = path[0], path[1:]
    inner = nest(rest, leaf, filler)
    if isinstance(head, str):
        return {"pad": filler, head: inner} if head != "pad" else {head: inner}
    return [filler] * head + [inner]


@pytest.mark.parametrize("encode", [dumps, stdlib_dumps], ids=["default", "stdlib"])
@given(path=paths, filler=scalars)
def test_an_unsupported_value_anywhere_is_named_by_its_path(
    encode: Any, path: list[str | int], filler: Any
) -> None:
    """One object of an unknown type anywhere: ValidationError, and its field is that exact path."""
    with pytest.raises(ValidationError) as raised:
        encode({"properties": nest(path, Unsupported(), filler)})
    assert raised.value.field == ".".join(["properties", *map(str, path)])


operations = st.lists(
    st.one_of(
        st.tuples(st.just("track"), st.integers(1, 5)),
        st.tuples(st.just("cancelled"), st.integers(0, 2)),
        st.tuples(st.just("advance"), st.floats(0, 30)),
        st.tuples(st.just("flush"), st.floats(0, 5)),
    ),
    max_size=12,
)
answers = st.lists(
    st.one_of(st.sampled_from([200, 500, 503, 400, 429]).map(Step), st.just(Step(fail=True)),
              st.just(Step(429, {"Retry-After": "2"}))),
    max_size=6,
)  # fmt: skip


@given(ops=operations, script=answers, close_after=st.floats(0, 120))
def test_every_accepted_event_settles_exactly_once(ops: list[tuple[str, Any]], script: list[Step],
                                                   close_after: float) -> None:  # fmt: skip
    """Random calls, cancellations, flushes, time and server answers, then a close with a deadline.

    Every call that returned a Context settles exactly once (one callback), a cancelled call either
    raised CancelledError (nothing accepted) or returned its Context, and stats() balance.
    """
    asyncio.run(_scenario(ops, script, close_after))


async def _scenario(ops: list[tuple[str, Any]], script: list[Step], close_after: float) -> None:
    clock = FakeClock()
    analytics = Analytics(write_key="k", http_client=ScriptedClient(*script), clock=clock, flush_at=3,
                          max_queue_size=8, max_retries=3)  # fmt: skip
    settled: dict[int, int] = {}
    accepted = 0

    def track(n: int) -> asyncio.Task[Any]:
        def callback(error: Exception | None, ctx: Any) -> None:
            settled[n] = settled.get(n, 0) + 1

        return asyncio.create_task(analytics.track(event=f"E{n}", user_id="u", callback=callback))

    calls: list[asyncio.Task[Any]] = []
    background: list[asyncio.Task[Any]] = []
    for op, arg in ops:
        if op == "track":
            calls.extend(track(len(calls)) for _ in range(arg))
            await asyncio.sleep(0)
        elif op == "cancelled":
            call = track(len(calls))
            calls.append(call)
            for _ in range(arg):
                await asyncio.sleep(0)
            call.cancel()
        elif op == "advance":
            await clock.advance(arg)
        else:
            background.append(asyncio.create_task(analytics.flush(timeout=arg)))
    closing = asyncio.create_task(analytics.flush(close=True, timeout=close_after))
    while not closing.done():
        await clock.advance(10)
    results = await asyncio.gather(*calls, return_exceptions=True)
    for n, result in enumerate(results):
        if isinstance(result, BaseException):
            assert isinstance(result, asyncio.CancelledError)
            assert n not in settled
        else:
            accepted += 1
            assert settled.get(n) == 1, (n, settled)
    for task in background:
        await task
    stats = analytics.stats()
    assert stats.accepted == accepted
    assert stats.delivered + sum(stats.failed.values()) + sum(stats.dropped.values()) == accepted
    assert stats.unsettled == 0
