"""Bad input gets a specific error at the call site, and nothing already queued is lost."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from analytics_async import EventTooLargeError, ValidationError
from analytics_async.testing import SegmentSink

from .conftest import MakeAnalytics


@pytest.mark.parametrize(
    ("call", "kwargs", "field"),
    [
        ("track", {"event": "E"}, "user_id"),
        ("track", {"event": "E", "user_id": ""}, "user_id"),
        ("track", {"event": "", "user_id": "u"}, "event"),
        ("track", {"event": 5, "user_id": "u"}, "event"),
        ("track", {"event": "E", "user_id": 1.5}, "user_id"),
        ("track", {"event": "E", "user_id": True}, "user_id"),
        ("track", {"event": "E", "anonymous_id": ["a"]}, "anonymous_id"),
        ("track", {"event": "E", "user_id": "u", "properties": [1]}, "properties"),
        ("track", {"event": "E", "user_id": "u", "context": "x"}, "context"),
        ("track", {"event": "E", "user_id": "u", "integrations": 1}, "integrations"),
        ("track", {"event": "E", "user_id": "u", "timestamp": 12}, "timestamp"),
        ("track", {"event": "E", "user_id": "u", "message_id": 12}, "message_id"),
        ("track", {"event": "E", "user_id": "u", "callback": "nope"}, "callback"),
        ("identify", {"traits": {"a": 1}}, "user_id"),
        ("identify", {"user_id": "u", "traits": "x"}, "traits"),
        ("page", {"user_id": "u", "name": 3}, "name"),
        ("screen", {"user_id": "u", "category": 3}, "category"),
        ("group", {"group_id": "g"}, "user_id"),
        ("group", {"group_id": "", "user_id": "u"}, "group_id"),
        ("group", {"group_id": None, "user_id": "u"}, "group_id"),
        ("alias", {"user_id": "u", "previous_id": None}, "previous_id"),
        ("alias", {"user_id": None, "previous_id": "p"}, "user_id"),
    ],
)
async def test_invalid_calls_name_the_field(
    make_analytics: MakeAnalytics, call: str, kwargs: dict[str, Any], field: str
) -> None:
    """Each invalid argument raises ValidationError whose `field` names it."""
    analytics = make_analytics()
    with pytest.raises(ValidationError) as info:
        await getattr(analytics, call)(**kwargs)
    assert info.value.field == field
    assert field in str(info.value)


async def test_unconvertible_value_names_its_path(make_analytics: MakeAnalytics) -> None:
    """A value JSON cannot carry raises at the call, naming the dotted path."""
    analytics = make_analytics()
    with pytest.raises(ValidationError) as info:
        await analytics.track(event="E", user_id="u", properties={"items": [{"ok": 1}, {"bad": object()}]})
    assert info.value.field == "properties.items.1.bad"


async def test_circular_reference_is_a_validation_error(make_analytics: MakeAnalytics) -> None:
    """A self-referencing dict is rejected with its path instead of crashing the pipeline."""
    analytics = make_analytics()
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValidationError) as info:
        await analytics.track(event="E", user_id="u", properties={"x": loop})
    assert info.value.field.startswith("properties.x")


async def test_oversize_event_raises(make_analytics: MakeAnalytics) -> None:
    """An event above 32 KB of UTF-8 JSON raises EventTooLargeError with its size."""
    analytics = make_analytics()
    with pytest.raises(EventTooLargeError) as info:
        await analytics.track(event="E", user_id="u", properties={"blob": "é" * 17_000})
    assert info.value.size > 32 * 1024
    assert info.value.limit == 32 * 1024
    assert isinstance(info.value, ValidationError)


async def test_event_just_under_the_limit_is_sent(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """An event of nearly 32 KB is accepted and arrives."""
    analytics = make_analytics()
    await analytics.track(event="E", user_id="u", properties={"blob": "a" * 32_000})
    await analytics.flush()
    assert len(sink.events) == 1


async def test_bad_call_loses_nothing_already_queued(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """Events queued before and after a rejected call are all delivered."""
    analytics = make_analytics()
    await analytics.track(event="before", user_id="u")
    with pytest.raises(ValidationError):
        await analytics.track(event="bad", user_id="u", properties={"x": object()})
    await analytics.track(event="after", user_id="u")
    await analytics.flush()
    assert [e["event"] for e in sink.events] == ["before", "after"]
    stats = analytics.stats()
    assert stats.accepted == stats.delivered == 2


async def test_keyword_only(make_analytics: MakeAnalytics) -> None:
    """The calls take keyword arguments only."""
    analytics = make_analytics()
    with pytest.raises(TypeError):
        await analytics.track("E", "u")  # type: ignore[call-arg]


class _Unprintable:
    """An object whose repr and str raise."""

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __str__(self) -> str:
        raise RuntimeError("str")


class _Unreadable(Mapping[str, Any]):
    """A Mapping that raises whenever it is read."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("getitem")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("iter")

    def __len__(self) -> int:
        return 1


WEST, EAST = timezone(timedelta(hours=-5)), timezone(timedelta(hours=5))


def _nested(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return root


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"properties": {"s": "x\ud800y"}}, "properties.s", "lone surrogate"),
        ({"properties": {"\udc00": 1}}, "properties", "lone surrogate"),
        ({"user_id": "u\ud800"}, "userId", "lone surrogate"),
        ({"properties": _nested(5_000)}, "properties" + ".a" * 100, "nested more than 100"),
        ({"properties": {"n": 2**2000}}, "properties.n", "2001 bits"),
        ({"properties": {"n": -(10**5000)}}, "properties.n", "bits"),
        ({"properties": {1: "a", "1": "b"}}, "properties", "both sent as '1'"),
        ({"properties": {True: 1, "true": 2}}, "properties", "both sent as 'true'"),
        ({"properties": {"o": _Unprintable()}}, "properties.o", "_Unprintable"),
        ({"event": _Unprintable()}, "event", "_Unprintable"),
        ({"properties": {"d": datetime.max.replace(tzinfo=WEST)}}, "properties.d", "datetime"),
        ({"timestamp": datetime(1, 1, 1, tzinfo=EAST)}, "timestamp", "out of range"),
        ({"properties": {"m": _Unreadable()}}, "properties.m", "could not be read"),
        ({"properties": _Unreadable()}, "properties", "could not be read"),
    ],
    ids=[
        "surrogate", "surrogate key", "surrogate id", "deep", "huge int", "5000-digit int", "colliding keys",
        "colliding bool key", "unprintable value", "unprintable event", "datetime overflow",
        "timestamp overflow", "unreadable mapping", "unreadable properties",
    ],
)  # fmt: skip
async def test_hostile_values_are_validation_errors_and_spare_the_queue(
    make_analytics: MakeAnalytics, sink: SegmentSink, kwargs: dict[str, Any], field: str, words: str
) -> None:
    """Each value that cannot be sent raises ValidationError naming it; queued events and the client go on."""
    analytics = make_analytics()
    queued = await analytics.track(event="before", user_id="u")
    call = {"event": "E", "user_id": "u", **kwargs}
    with pytest.raises(ValidationError) as info:
        await analytics.track(**call)
    assert info.value.field == field
    assert words in str(info.value)
    after = await analytics.track(event="after", user_id="u")
    await analytics.flush()
    assert [e["event"] for e in sink.events] == ["before", "after"]
    assert await queued.delivered(timeout=0)
    assert await after.delivered(timeout=0)
    assert analytics.stats().accepted == 2


async def test_big_but_printable_ints_are_sent_exactly(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """An int beyond 64 bits (and within the limit) goes on the wire as the exact integer."""
    analytics = make_analytics()
    await analytics.track(event="E", user_id="u", properties={"n": 10**30})
    await analytics.flush()
    assert sink.events[0]["properties"]["n"] == 10**30  # parsed by the stdlib: exact
