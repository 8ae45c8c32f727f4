"""Tracking plans: reading every published shape, checking events, and the plugin's three answers.

What crosses the wire is counted at a real sink (aiohttp on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import pathlib
from typing import Any

import pytest

from analytics_async import ConfigError, ErrorEvent, PlanViolationError, ValidationError
from analytics_async.plans import PlanPlugin, PlanViolation, TrackingPlan
from analytics_async.sync import Client, from_thread
from analytics_async.testing import SegmentSink
from tests.conftest import MakeAnalytics

HERE = pathlib.Path(__file__).parent
EXAMPLE = HERE.parent / "examples" / "plans" / "ecommerce-plan.json"
LEGACY = HERE / "plans" / "legacy-plan.json"
YAML = HERE / "plans" / "public-rules.yaml"

ORDER = {"order_id": "o1", "total": 12.5, "revenue": 10.0, "currency": "USD"}


def _track(event: str, properties: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "userId": "u1", "properties": properties, **fields}


@pytest.mark.parametrize("path", [LEGACY, YAML], ids=["legacy plan.json", "Public API rules as YAML"])
def test_the_legacy_and_yaml_shapes_say_the_same(path: pathlib.Path) -> None:
    """Typewriter v7's plan.json and the Public API's rules (here as YAML) give the same verdicts."""
    plan = TrackingPlan.load(path)
    good = _track("Sign In Failed", {"id": "a", "numAttempts": 2}, context={"locale": "en"})
    assert plan.check(good) == []
    bad = _track("Sign In Failed", {"id": "a", "numAttempts": "2"}, context={"locale": "en"})
    assert [(v.rule, v.path) for v in plan.check(bad)] == [
        ("TRACK 'Sign In Failed' v1", "properties.numAttempts")
    ]
    no_locale = _track("Order Completed", {"order_id": "o", "total": 1}, context={})
    assert [(v.rule, v.path) for v in plan.check(no_locale)] == [("COMMON v1", "context.locale")]
    assert [v.path for v in plan.check({"type": "identify", "traits": {}, "context": {"locale": "en"}})] == [
        "traits.email"
    ]
    assert [v.rule for v in plan.check(_track("Unknown", {}, context={"locale": "en"}))] == [None]


def test_the_public_api_answer_and_what_plan_pull_writes_load_alike() -> None:
    """A rules list, {"rules": [...]} with trackingPlan (plan pull's file) and the API's raw answer."""
    written = json.loads(EXAMPLE.read_text())
    shapes = [written, {"data": {"rules": written["rules"]}}, written["rules"]]
    plans = [TrackingPlan.from_data(shape) for shape in shapes]
    assert plans[0].name == "E-commerce"
    assert (
        [r.label for r in plans[0].rules]
        == [r.label for r in plans[1].rules]
        == [r.label for r in plans[2].rules]
    )
    assert len(plans[0].newest()) == 11  # 8 track events (one in two versions), identify, group, common


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            [{"type": "EVENT", "key": "A", "version": 1, "jsonSchema": {}}],
            "rule #1 ('A'): unknown type 'EVENT'",
        ),
        (
            [{"type": "TRACK", "version": 1, "jsonSchema": {}}],
            "rule #1: a TRACK rule needs a non-empty event name",
        ),
        (
            [{"type": "TRACK", "key": "A", "version": 1, "jsonSchema": {"type": "strin"}}],
            "TRACK 'A' v1: not a valid JSON Schema",
        ),
        (
            [{"type": "TRACK", "key": "A", "version": 2, "jsonSchema": {}}] * 2,
            "TRACK 'A' v2 appears twice",
        ),
        (
            [{"type": "TRACK", "key": "A", "version": 0, "jsonSchema": {}}],
            "version must be a positive integer",
        ),
        (
            {"rules": {"events": [{"name": "A", "rules": []}]}},
            "rules.events[0] ('A'): the JSON Schema must be",
        ),
        ({"something": "else"}, "not a tracking plan"),
    ],
)
def test_a_bad_plan_is_a_config_error_naming_the_rule(data: object, says: str) -> None:
    """Unknown types, invalid schemas, duplicates, bad versions: one ConfigError naming the rule."""
    with pytest.raises(ConfigError, match=r"^plan: ") as raised:
        TrackingPlan.from_data(data)
    assert says in str(raised.value)


def test_a_plan_file_that_cannot_be_read_says_which_and_why(tmp_path: pathlib.Path) -> None:
    """A missing file and broken JSON are ConfigErrors naming the file."""
    with pytest.raises(ConfigError, match="cannot read"):
        TrackingPlan.load(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match=r"broken.json is not valid JSON"):
        TrackingPlan.load(tmp_path / "broken.json")
    (tmp_path / "broken.yaml").write_text("a: [")
    with pytest.raises(ConfigError, match=r"broken.yaml is not valid YAML"):
        TrackingPlan.load(tmp_path / "broken.yaml")


def test_the_newest_version_unless_the_event_names_one() -> None:
    """Order Completed v2 requires revenue; context.protocols.event_version=1 asks for v1."""
    plan = TrackingPlan.load(EXAMPLE)
    v1_shaped = _track("Order Completed", {"order_id": "o1", "total": 3})
    assert [(v.rule, v.path) for v in plan.check(v1_shaped)] == [
        ("TRACK 'Order Completed' v2", "properties.revenue")
    ]
    asks_v1 = {**v1_shaped, "context": {"protocols": {"event_version": 1}}}
    assert plan.check(asks_v1) == []
    asks_v9 = {**v1_shaped, "context": {"protocols": {"event_version": 9}}}
    (violation,) = plan.check(asks_v9)
    assert (violation.path, violation.reason) == (
        "context.protocols.event_version",
        "version 9 is not in the plan (it has 1, 2)",
    )


def test_values_are_checked_as_they_go_on_the_wire() -> None:
    """A datetime is checked as its ISO string (format date-time); an extra property breaks a closed rule."""
    plan = TrackingPlan.load(EXAMPLE)
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert plan.check({"type": "identify", "traits": {"email": "a@example.com", "created_at": when}}) == []
    (violation,) = plan.check(
        {"type": "identify", "traits": {"email": "a@example.com", "created_at": "soon"}}
    )
    assert violation.path == "traits.created_at"
    (extra,) = plan.check(_track("Order Completed", {**ORDER, "colour": "red"}))
    assert (extra.path, extra.rule) == ("properties.colour", "TRACK 'Order Completed' v2")
    (nested,) = plan.check(
        _track("Order Completed", {**ORDER, "products": [{"product_id": "p", "price": -1}]})
    )
    assert nested.path == "properties.products.0.price"


async def test_warn_sends_the_event_counts_it_and_says_so_once_a_minute(
    make_analytics: MakeAnalytics, sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """'warn': delivered anyway; stats().violations, a `violation` event each time, one WARNING per path."""
    analytics = make_analytics()
    await analytics.register(TrackingPlan.load(EXAMPLE).plugin(on_violation="warn"))
    seen: list[PlanViolation] = []
    analytics.on("violation", seen.append)
    with caplog.at_level(logging.WARNING, logger="analytics_async"):
        for _ in range(3):
            await analytics.track(
                event="Order Completed", user_id="u1", properties={**ORDER, "total": "12.5"}
            )
        await analytics.track(event="Order Completed", user_id="u1", properties=ORDER)
        await analytics.flush()
    assert len(sink.events) == 4
    assert analytics.stats().violations == 3
    assert [(v.event, v.path) for v in seen] == [("Order Completed", "properties.total")] * 3
    warnings = [r.getMessage() for r in caplog.records if "breaks" in r.getMessage()]
    expected = "analytics_async: 'Order Completed' breaks TRACK 'Order Completed' v2 at properties.total: "
    assert warnings == [expected + '"12.5" is not of type "number"']


async def test_drop_fails_the_event_with_the_path_and_sends_nothing(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """'drop': the call returns; the event fails with PlanViolationError (callback, error event)."""
    analytics = make_analytics()
    await analytics.register(TrackingPlan.load(EXAMPLE).plugin(on_violation="drop", on_unplanned="drop"))
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    called: list[BaseException | None] = []
    ctx = await analytics.track(
        event="Order Completed",
        user_id="u1",
        properties={"order_id": "o1"},
        callback=lambda e, c: called.append(e),
    )
    unplanned = await analytics.track(event="Typo Completed", user_id="u1")
    fine = await analytics.track(event="Order Completed", user_id="u1", properties=ORDER)
    await analytics.flush()
    assert [e["messageId"] for e in sink.events] == [fine.event["messageId"]]
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, PlanViolationError)
    assert failure.reason.field == "properties.total"  # the first required property missing
    assert isinstance(called[0], PlanViolationError)
    assert [type(e.reason) for e in errors] == [PlanViolationError, PlanViolationError]
    assert "not in the tracking plan" in str(unplanned.failed_delivery().reason)  # type: ignore[union-attr]
    stats = analytics.stats()
    assert (stats.accepted, stats.delivered, stats.failed, stats.violations) == (
        3, 1, {"PlanViolationError": 2}, 2,
    )  # fmt: skip


async def test_raise_raises_at_the_call_and_accepts_nothing(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """'raise': PlanViolationError (a ValidationError) from the call; nothing queued; others still go."""
    analytics = make_analytics()
    await analytics.register(TrackingPlan.load(EXAMPLE).plugin(on_violation="raise", on_unplanned="raise"))
    await analytics.track(event="Order Completed", user_id="u1", properties=ORDER)
    with pytest.raises(PlanViolationError, match=r"^properties.currency: 'Order Completed' breaks") as raised:
        await analytics.track(event="Order Completed", user_id="u1", properties={**ORDER, "currency": "XYZ"})
    assert isinstance(raised.value, ValidationError)
    assert raised.value.violation.rule == "TRACK 'Order Completed' v2"
    with pytest.raises(PlanViolationError, match="not in the tracking plan"):
        await analytics.track(event="Typo", user_id="u1")
    await analytics.identify(user_id="u1", traits={"email": "a@example.com"})
    await analytics.flush()
    assert [e["type"] for e in sink.events] == ["track", "identify"]
    assert (analytics.stats().accepted, analytics.stats().violations) == (2, 2)


async def test_unplanned_events_are_allowed_by_default(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """on_unplanned='allow' (the default) sends an event the plan has no rule for, without a word."""
    analytics = make_analytics()
    await analytics.register(TrackingPlan.load(EXAMPLE).plugin(on_violation="raise"))
    await analytics.track(event="Something New", user_id="u1")
    await analytics.alias(user_id="u1", previous_id="anon")
    await analytics.flush()
    assert len(sink.events) == 2
    assert analytics.stats().violations == 0


async def test_a_plan_does_not_put_events_through_the_plugin_stage(make_analytics: MakeAnalytics) -> None:
    """The plan is checked at the call: the stage stays idle (its cost), deregister removes the check."""
    analytics = make_analytics()
    plugin = TrackingPlan.load(EXAMPLE).plugin(on_violation="raise")
    await analytics.register(plugin)
    stage = analytics._runtime.intake.stage
    assert (stage.active, stage.checks) == (False, (plugin,))
    assert plugin.name in stage.names
    await analytics.deregister(plugin.name)
    assert stage.checks == ()
    await analytics.track(event="Order Completed", user_id="u1", properties={})  # no plan: accepted


def test_bad_modes_are_config_errors() -> None:
    """on_violation and on_unplanned name their values."""
    plan = TrackingPlan.load(EXAMPLE)
    with pytest.raises(ConfigError, match="on_violation: must be 'warn', 'drop' or 'raise', not 'ignore'"):
        plan.plugin(on_violation="ignore")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="on_unplanned"):
        PlanPlugin(plan, on_unplanned="maybe")  # type: ignore[arg-type]


def test_the_sync_drop_in_takes_a_plan(threaded_sink: SegmentSink) -> None:
    """Client(plan=path, on_violation=...): raise at the call in the calling thread; drop via on_error."""
    dropped: list[tuple[BaseException, list[dict[str, Any]]]] = []
    client = Client(
        "wk", host=threaded_sink.url, plan=EXAMPLE, on_violation="drop",
        on_error=lambda e, batch: dropped.append((e, batch)),
    )  # fmt: skip
    assert client.track("u1", "Order Completed", ORDER)[0] is True
    _, broken = client.track("u1", "Order Completed", {"order_id": "o2"})
    client.flush()
    assert [e["properties"]["order_id"] for e in threaded_sink.events] == ["o1"]
    assert [(type(e).__name__, b[0]["messageId"]) for e, b in dropped] == [
        ("PlanViolationError", broken["messageId"])
    ]
    assert client.analytics.stats().violations == 1
    client.shutdown()

    strict = Client("wk", host=threaded_sink.url, plan=TrackingPlan.load(EXAMPLE), on_violation="raise")
    with pytest.raises(PlanViolationError, match=r"properties\.revenue"):
        strict.track("u1", "Order Completed", {"order_id": "o3", "total": 1, "currency": "USD"})
    strict.flush()
    assert strict.analytics.stats().violations == 1  # counted in the loop's thread
    strict.shutdown()
    assert len(threaded_sink.events) == 1


def test_the_drop_in_names_a_bad_plan_as_a_setting(tmp_path: pathlib.Path) -> None:
    """A plan that cannot be read is the drop-in's InvalidSettingError, naming it."""
    with pytest.raises(ConfigError, match="plan: cannot read"):
        Client("wk", plan=tmp_path / "missing.json", send=False)


async def test_a_violation_from_another_thread_is_counted_in_the_loop(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """From another thread (from_thread), 'warn' is counted and emitted in the loop, once."""
    analytics = make_analytics()
    await analytics.register(TrackingPlan.load(EXAMPLE).plugin(on_violation="warn"))
    seen: list[PlanViolation] = []
    analytics.on("violation", seen.append)
    caller = from_thread(analytics)
    await asyncio.to_thread(
        caller.track, event="Order Completed", user_id="u1", properties={**ORDER, "order_id": 1}
    )
    await analytics.flush()
    assert [v.path for v in seen] == ["properties.order_id"]
    assert len(sink.events) == 1
    assert analytics.stats().violations == 1


async def test_violations_are_an_opentelemetry_counter(make_analytics: MakeAnalytics) -> None:
    """`segment.client.event.violations` follows stats().violations."""
    from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: PLC0415

    from analytics_async.otel import instrument  # noqa: PLC0415

    reader = InMemoryMetricReader()
    analytics = make_analytics()
    instrument(analytics, meter_provider=MeterProvider(metric_readers=[reader]))
    await analytics.register(TrackingPlan.load(EXAMPLE).plugin(on_violation="drop"))
    await analytics.track(event="Order Completed", user_id="u1", properties={})
    data = reader.get_metrics_data()
    assert data is not None
    points = [
        point.value  # type: ignore[union-attr]
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "segment.client.event.violations"
        for point in metric.data.data_points
    ]
    assert points == [1]


def test_warnings_are_rate_limited_per_event_and_path_with_a_bounded_memory(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Once a minute per (event, path), saying how many since; made-up names do not grow it for ever."""
    now = [0.0]
    plugin = PlanPlugin(TrackingPlan.load(EXAMPLE), on_unplanned="warn", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="analytics_async"):
        for _ in range(5):
            plugin.check_call(_track("Typo", {}))
        now[0] = 61.0
        plugin.check_call(_track("Typo", {}))
    line = "analytics_async: 'Typo' is not in the tracking plan: no TRACK rule plans it"
    assert [r.getMessage() for r in caplog.records] == [line, line + " (4 more since the last warning)"]
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="analytics_async"):
        for i in range(5000):
            plugin.check_call(_track(f"Made up {i}", {}))
    assert len(plugin._warned) <= 1024
