"""The Context API: update_event paths, cancel, delivered() with a timeout."""

from __future__ import annotations

import pytest

from analytics_async import Context, ContextCancelation, SimplePlugin
from analytics_async.testing import SegmentSink

from .conftest import MakeAnalytics


def test_update_event_creates_paths() -> None:
    """Dotted paths create dicts, numeric segments create lists."""
    ctx = Context({"type": "track", "properties": {}})
    ctx.update_event("properties.items.0.name", "hat")
    ctx.update_event("context.page.url", "/x")
    ctx.update_event("properties.items.1", "scarf")
    assert ctx.event["properties"] == {"items": [{"name": "hat"}, "scarf"]}
    assert ctx.event["context"] == {"page": {"url": "/x"}}


def test_update_event_paths_the_same_every_time_and_however_many() -> None:
    """The same path writes the same way on every call (remembered), and thousands of paths work."""
    for _ in range(3):
        ctx = Context({"type": "track", "integrations": {"Mixpanel": False}, "properties": {"a": {"b": 1}}})
        ctx.update_event("properties.a.c", 2)
        ctx.update_event("properties.__proto__.x", 1)
        ctx.update_event("integrations.Mixpanel", True)
        ctx.update_event("context.tenant", "acme")
        assert ctx.event == {
            "type": "track",
            "integrations": {"Mixpanel": False},
            "properties": {"a": {"b": 1, "c": 2}},
            "context": {"tenant": "acme"},
        }
    ctx = Context({"type": "track"})
    for i in range(3_000):
        ctx.update_event(f"properties.p{i}", i)
    assert ctx.event["properties"] == {f"p{i}": i for i in range(3_000)}


def test_update_event_respects_disabled_integrations() -> None:
    """A write to integrations.<Name> is ignored when that integration is False; odd keys are ignored."""
    ctx = Context({"type": "track", "integrations": {"Mixpanel": False}})
    ctx.update_event("integrations.Mixpanel", True)
    ctx.update_event("properties.__proto__.x", 1)
    assert ctx.event == {"type": "track", "integrations": {"Mixpanel": False}}


def test_cancel_always_raises() -> None:
    """cancel() raises ContextCancelation, or the error given."""
    ctx = Context({"type": "track"})
    with pytest.raises(ContextCancelation) as info:
        ctx.cancel()
    assert info.value.retry is True
    assert info.value.type == "plugin Error"
    with pytest.raises(KeyError):
        ctx.cancel(KeyError("x"))


def test_ids_are_unique() -> None:
    """Each context has its own id."""
    assert Context({}).id != Context({}).id


async def test_delivered_timeout(make_analytics: MakeAnalytics) -> None:
    """delivered(timeout) raises TimeoutError while the event is still pending."""
    analytics = make_analytics(flush_interval=3600)
    ctx = await analytics.track(event="E", user_id="u")
    with pytest.raises(TimeoutError):
        await ctx.delivered(timeout=0.01)
    await analytics.flush()
    assert await ctx.delivered(timeout=0.01) is True


async def test_context_logs(make_analytics: MakeAnalytics) -> None:
    """log() lines come back from logs() in order."""
    ctx = Context({"type": "track"})
    ctx.log("info", "one")
    ctx.log("warn", "two", {"k": 1})
    assert [(line.level, line.message, line.extras) for line in ctx.logs()] == [
        ("info", "one", None),
        ("warn", "two", {"k": 1}),
    ]


async def test_update_event_never_changes_the_callers_nested_data(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """A plugin writing a nested path changes what is sent, never the dicts and lists the caller passed."""

    def rename(ctx: Context) -> None:
        ctx.update_event("properties.items.0.name", "HAT")
        ctx.update_event("properties.items.1", "scarf")
        ctx.update_event("context.campaign.source", "plugin")

    analytics = make_analytics()
    await analytics.register(SimplePlugin(name="rename", type="enrichment", track=rename))
    items = [{"name": "hat", "qty": 1}]
    properties = {"items": items}
    context = {"campaign": {"source": "mail"}}
    await analytics.track(event="E", user_id="u", properties=properties, context=context)
    await analytics.flush()
    assert properties == {"items": [{"name": "hat", "qty": 1}]}
    assert items == [{"name": "hat", "qty": 1}]
    assert context == {"campaign": {"source": "mail"}}
    sent = sink.events[0]
    assert sent["properties"]["items"] == [{"name": "HAT", "qty": 1}, "scarf"]
    assert sent["context"]["campaign"] == {"source": "plugin"}


def test_two_part_writes_copy_each_dict_once_and_never_write_into_anothers() -> None:
    """Two-part writes never change a dict that is not the event's own, however often repeated.

    `head.key` copies the dict of `head` once (the caller's stays as it was); a dict set by a write,
    or shared with another key, is copied before the next write into it. Twice: the second time,
    every path is one remembered.
    """
    for _ in range(2):
        callers = {"plan": "pro"}
        ctx = Context({"type": "track", "properties": callers})
        ctx.update_event("properties.a", 1)
        ctx.update_event("properties.b", 2)
        assert callers == {"plan": "pro"}
        assert ctx.event["properties"] == {"plan": "pro", "a": 1, "b": 2}

        mine = {"source": "mail"}
        ctx.update_event("context", mine)
        ctx.update_event("context.medium", "email")
        assert mine == {"source": "mail"}
        copied = ctx.update_event("context.tenant", "acme")
        ctx.update_event("properties", copied["context"])  # now two keys hold one dict
        ctx.update_event("context.more", True)
        assert ctx.event["properties"] == {"source": "mail", "medium": "email", "tenant": "acme"}
        assert ctx.event["context"]["more"] is True
