"""What each of the six calls puts on the wire, as received by a real local server."""

from __future__ import annotations

import base64
import platform
import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest

from analytics_async import Analytics, __version__
from analytics_async.testing import SegmentSink

from .conftest import MakeAnalytics

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LIBRARY = {"name": "analytics-async", "version": __version__}
COMMON: dict[str, Any] = {
    "context": {"library": LIBRARY},
    "integrations": {},
    "_metadata": {
        "pythonVersion": platform.python_version(),
        "pythonImplementation": platform.python_implementation(),
    },
}
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


async def sent_one(analytics: Analytics, sink: SegmentSink, call: str, **kwargs: Any) -> dict[str, Any]:
    await getattr(analytics, call)(timestamp=WHEN, message_id="m-1", **kwargs)
    await analytics.flush()
    assert len(sink.events) == 1
    return sink.events[0]


def expected(**fields: Any) -> dict[str, Any]:
    return {**COMMON, "timestamp": "2026-01-02T03:04:05.678Z", "messageId": "m-1", **fields}


async def test_track_wire_format(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """track sends type, event, properties and the ids."""
    event = await sent_one(
        make_analytics(), sink, "track", event="Item Purchased", user_id="u1", properties={"revenue": 39.95}
    )
    assert event == expected(type="track", event="Item Purchased", userId="u1", properties={"revenue": 39.95})


async def test_identify_wire_format(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """identify sends traits and both ids."""
    event = await sent_one(
        make_analytics(), sink, "identify", user_id="u1", anonymous_id="a1", traits={"plan": "pro"}
    )
    assert event == expected(type="identify", userId="u1", anonymousId="a1", traits={"plan": "pro"})


async def test_page_copies_category_into_properties(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """page sends category and name, and also sets properties.category (as analytics-node)."""
    event = await sent_one(
        make_analytics(), sink, "page", anonymous_id="a1", category="Docs", name="Intro",
        properties={"path": "/docs", "category": "old"},
    )  # fmt: skip
    assert event == expected(
        type="page", anonymousId="a1", category="Docs", name="Intro",
        properties={"path": "/docs", "category": "Docs"},
    )  # fmt: skip


async def test_screen_keeps_category_top_level(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """screen sends category only at the top level."""
    event = await sent_one(make_analytics(), sink, "screen", user_id=7, category="Home", name="Feed")
    assert event == expected(type="screen", userId="7", category="Home", name="Feed", properties={})


async def test_group_wire_format(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """group sends groupId and traits."""
    event = await sent_one(make_analytics(), sink, "group", group_id=56, user_id="u1", traits={"seats": 4})
    assert event == expected(type="group", groupId="56", userId="u1", traits={"seats": 4})


async def test_alias_wire_format(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """alias sends userId and previousId."""
    event = await sent_one(make_analytics(), sink, "alias", user_id="new", previous_id="old")
    assert event == expected(type="alias", userId="new", previousId="old")


async def test_request_envelope_and_headers(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """The body has batch/writeKey/sentAt; headers carry JSON type, our User-Agent and Basic auth."""
    analytics = make_analytics(write_key="foo")
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    (batch,) = sink.batches
    assert list(batch.body) == ["batch", "writeKey", "sentAt"]
    assert batch.body["writeKey"] == "foo"
    assert TS.match(batch.body["sentAt"])
    assert batch.headers["Content-Type"] == "application/json"
    assert batch.headers["User-Agent"] == f"analytics-async/{__version__}"
    assert batch.headers["Authorization"] == "Basic " + base64.b64encode(b"foo:").decode() == "Basic Zm9vOg=="
    assert "X-Retry-Count" not in batch.headers


async def test_defaults_timestamp_and_unique_message_ids(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """Without a timestamp or message id, each event gets the call time and a unique uuid."""
    analytics = make_analytics()
    before = datetime.now(UTC) - timedelta(seconds=1)
    for _ in range(50):
        await analytics.track(event="E", user_id="u", message_id="")
    await analytics.flush()
    ids = [e["messageId"] for e in sink.events]
    assert len(set(ids)) == 50
    assert all(uuid.UUID(i) for i in ids)
    for e in sink.events:
        assert TS.match(e["timestamp"])
        assert datetime.fromisoformat(e["timestamp"]) >= before


async def test_timestamps(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """Aware datetimes go to UTC, naive ones are taken as UTC, strings pass unchanged."""
    analytics = make_analytics()
    plus2 = timezone(timedelta(hours=2))
    await analytics.track(event="A", user_id="u", timestamp=datetime(2020, 1, 1, 12, 0, tzinfo=plus2))
    await analytics.track(event="B", user_id="u", timestamp=datetime(2020, 1, 1, 12, 0, 0, 1500))
    await analytics.track(event="C", user_id="u", timestamp="2020-01-01")
    await analytics.flush()
    assert [e["timestamp"] for e in sink.events] == [
        "2020-01-01T10:00:00.000Z",
        "2020-01-01T12:00:00.001Z",
        "2020-01-01",
    ]


class Plan(Enum):
    PRO = "pro"


async def test_non_json_values_are_converted(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """datetime, date, Decimal, UUID, Enum, set, tuple, NaN and big ints arrive as plain JSON."""
    analytics = make_analytics()
    uid = uuid.UUID(int=1)
    await analytics.track(
        event="E",
        user_id="u",
        properties={
            "when": WHEN, "day": date(2020, 5, 17), "price": Decimal("9.50"), "id": uid, "plan": Plan.PRO,
            "tags": {"b", "a"}, "pair": (1, 2), "nan": float("nan"), "inf": float("inf"), "big": 2**80,
            "nested": {1: "int key"},
        },
    )  # fmt: skip
    await analytics.flush()
    assert sink.events[0]["properties"] == {
        "when": "2026-01-02T03:04:05.678Z", "day": "2020-05-17", "price": 9.5, "id": str(uid),
        "plan": "pro", "tags": ["a", "b"], "pair": [1, 2], "nan": None, "inf": None, "big": 2**80,
        "nested": {"1": "int key"},
    }  # fmt: skip


async def test_caller_objects_are_never_mutated(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """The caller's context, properties, traits and integrations dicts come back unchanged."""
    analytics = make_analytics()
    context = {"ip": "1.2.3.4"}
    properties = {"a": 1}
    integrations = {"All": False}
    await analytics.page(
        user_id="u", category="C", context=context, properties=properties, integrations=integrations
    )
    traits = {"t": 1}
    await analytics.identify(user_id="u", traits=traits, context=context)
    await analytics.flush()
    assert context == {"ip": "1.2.3.4"}
    assert properties == {"a": 1}
    assert integrations == {"All": False}
    assert traits == {"t": 1}
    assert sink.events[0]["context"] == {"ip": "1.2.3.4", "library": LIBRARY}
    assert sink.events[0]["integrations"] == {"All": False}


async def test_non_ascii_is_sent_as_utf8(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """Non-ASCII text arrives intact."""
    analytics = make_analytics()
    await analytics.track(event="Café ☕", user_id="ユーザー")
    await analytics.flush()
    assert sink.events[0]["event"] == "Café ☕"
    assert sink.events[0]["userId"] == "ユーザー"


@pytest.mark.parametrize("call", ["track", "identify", "page", "screen", "group", "alias"])
async def test_ctx_event_is_the_sent_message(
    make_analytics: MakeAnalytics, sink: SegmentSink, call: str
) -> None:
    """The returned Context's event equals what arrived."""
    analytics = make_analytics()
    kwargs: dict[str, Any] = {"user_id": "u"}
    kwargs |= {"track": {"event": "E"}, "group": {"group_id": "g"}, "alias": {"previous_id": "p"}}.get(
        call, {}
    )
    ctx = await getattr(analytics, call)(**kwargs)
    await analytics.flush()
    assert sink.events == [ctx.event]
    assert await ctx.delivered() is True
    assert ctx.failed_delivery() is None
