"""The plan commands end to end: pull (against a local Public API), codegen (mypy, ruff), check.

The whole path is tried as a user runs it: a plan file -> a generated module -> mypy --strict ->
calls through it -> a real sink recording what arrived -> `plan check` on that recording.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from analytics_async import Analytics
from analytics_async.__main__ import main
from analytics_async.plans import TrackingPlan
from analytics_async.sync import Client
from analytics_async.testing import SegmentSink, assert_conforms
from tests.helpers import load_module, sink_in_thread

ROOT = pathlib.Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "plans" / "ecommerce-plan.json"
COMMITTED = ROOT / "examples" / "plans" / "ecommerce_events.py"
TOKEN = "tok-public-api-secret"


class PublicAPI:
    """A local Public API answering tracking-plan requests in the documented shape, 3 rules a page."""

    def __init__(self, rules: list[dict[str, Any]], *, hang: bool = False) -> None:
        self.rules = rules
        self.hang = hang
        self.requests: list[str] = []
        self.url = ""
        self.stopped = False

    async def plan(self, request: web.Request) -> web.Response:
        """GET /tracking-plans/{id} and its /rules, paginated by pagination.count and .cursor."""
        self.requests.append(str(request.rel_url))
        while self.hang and not self.stopped:
            await asyncio.sleep(0.005)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"errors": [{"type": "unauthorized"}]}, status=401)
        if request.match_info["id"] != "tp_1":
            return web.json_response({"errors": [{"type": "not-found"}]}, status=404)
        if not request.path.endswith("/rules"):
            return web.json_response(
                {"data": {"trackingPlan": {"id": "tp_1", "name": "Pulled", "type": "LIVE"}}}
            )
        count = int(request.query["pagination.count"])
        start = int(request.query.get("pagination.cursor", "0"))
        page = self.rules[start : start + min(count, 3)]
        after = start + len(page)
        following = str(after) if after < len(self.rules) else None
        pagination = {"current": str(start), "next": following, "totalEntries": len(self.rules)}
        return web.json_response({"data": {"rules": page, "pagination": pagination}})


@pytest.fixture
def public_api() -> Iterator[PublicAPI]:
    api = PublicAPI(json.loads(EXAMPLE.read_text())["rules"])
    app = web.Application()
    app.router.add_get("/tracking-plans/{id}", api.plan)
    app.router.add_get("/tracking-plans/{id}/rules", api.plan)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    api.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield api
    api.stopped = True
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_pull_fetches_every_page_and_writes_a_plan_that_loads(
    public_api: PublicAPI,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """12 rules in 4 pages of 3; the file loads as the same plan; the token is never printed."""
    monkeypatch.setenv("SEGMENT_PUBLIC_API_TOKEN", TOKEN)
    out = tmp_path / "plan.json"
    assert main(["plan", "pull", "--id", "tp_1", "--api-url", public_api.url, "-o", str(out)]) == 0
    said = capsys.readouterr()
    assert said.out == f"wrote 12 rules of 'Pulled' to {out}\n"
    assert TOKEN not in said.out + said.err
    pulled = TrackingPlan.load(out)
    assert [r.label for r in pulled.rules] == [r.label for r in TrackingPlan.load(EXAMPLE).rules]
    assert public_api.requests[1:] == [
        "/tracking-plans/tp_1/rules?pagination.count=200",
        "/tracking-plans/tp_1/rules?pagination.count=200&pagination.cursor=3",
        "/tracking-plans/tp_1/rules?pagination.count=200&pagination.cursor=6",
        "/tracking-plans/tp_1/rules?pagination.count=200&pagination.cursor=9",
    ]


@pytest.mark.parametrize(
    ("token", "plan_id", "code", "says"),
    [
        (
            None,
            "tp_1",
            2,
            "a Public API token is needed in the SEGMENT_PUBLIC_API_TOKEN environment variable",
        ),
        ("wrong", "tp_1", 1, "the Public API refused the token (401): check SEGMENT_PUBLIC_API_TOKEN"),
        (TOKEN, "tp_2", 1, "not found (404)"),
    ],
)
def test_pull_says_what_went_wrong_in_one_line(
    public_api: PublicAPI,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    token: str | None,
    plan_id: str,
    code: int,
    says: str,
) -> None:
    """No token: exit 2; refused or unknown: exit 1; one line on stderr, no file written."""
    monkeypatch.delenv("SEGMENT_PUBLIC_API_TOKEN", raising=False)
    if token is not None:
        monkeypatch.setenv("SEGMENT_PUBLIC_API_TOKEN", token)
    out = tmp_path / "plan.json"
    assert main(["plan", "pull", "--id", plan_id, "--api-url", public_api.url, "-o", str(out)]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert says in err
    assert not out.exists()


def test_pull_from_a_server_that_never_answers_ends_at_its_timeout(
    public_api: PublicAPI,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--timeout bounds each request: a hanging API is exit 1 and 'cannot reach ... TimeoutError'."""
    public_api.hang = True
    monkeypatch.setenv("SEGMENT_PUBLIC_API_TOKEN", TOKEN)
    args = ["plan", "pull", "--id", "tp_1", "--api-url", public_api.url, "--timeout", "0.01"]
    assert main([*args, "-o", str(tmp_path / "p.json")]) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_codegen_is_deterministic_and_check_finds_a_stale_module(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same plan gives the same bytes; --check exits 1 once the plan changes; the example is current."""
    out = tmp_path / "events.py"
    assert main(["plan", "codegen", str(EXAMPLE), "-o", str(out)]) == 0
    first = out.read_bytes()
    assert main(["plan", "codegen", str(EXAMPLE), "-o", str(out)]) == 0
    assert out.read_bytes() == first
    assert main(["plan", "codegen", str(EXAMPLE), "-o", str(out), "--check"]) == 0
    changed = json.loads(EXAMPLE.read_text())
    changed["rules"][0]["jsonSchema"]["properties"]["properties"]["properties"]["page"] = {"type": "integer"}
    (tmp_path / "ecommerce-plan.json").write_text(json.dumps(changed))
    assert main(["plan", "codegen", str(tmp_path / "ecommerce-plan.json"), "-o", str(out), "--check"]) == 1
    assert "is stale" in capsys.readouterr().out
    # what CI runs: the committed example module is what its plan generates
    assert main(["plan", "codegen", str(EXAMPLE), "-o", str(COMMITTED), "--check"]) == 0


def test_codegen_and_check_answer_bad_input_with_exit_2(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid plan, a missing file, a line that is not JSON: one line, exit 2."""
    (tmp_path / "bad.json").write_text(json.dumps([{"type": "EVENT", "key": "A"}]))
    assert main(["plan", "codegen", str(tmp_path / "bad.json")]) == 2
    assert capsys.readouterr().err == (
        "analytics-async: error: plan: rule #1 ('A'): unknown type 'EVENT' "
        "(expected one of TRACK, IDENTIFY, GROUP, PAGE, SCREEN, COMMON)\n"
    )
    (tmp_path / "events.jsonl").write_text('{"type": "track"}\nnot json\n')
    assert main(["plan", "check", "--plan", str(EXAMPLE), str(tmp_path / "events.jsonl")]) == 2
    assert "events.jsonl:2 must be a JSON object: " in capsys.readouterr().err
    assert main(["plan", "check", "--plan", str(EXAMPLE), str(tmp_path / "missing.jsonl")]) == 2


GOOD_USE = """\
from analytics_async import Analytics
from analytics_async.sync import Client
import events


async def checkout(analytics: Analytics, client: Client) -> None:
    await events.order_completed(
        analytics, user_id="u1", order_id="o1", total=12.5, revenue=10, currency="EUR",
        products=[{"product_id": "p1", "price": 10.0, "quantity": 1}], payment_method="card",
    )
    await events.identify(analytics, user_id="u1", email="ada@example.com", plan="pro")
    await events.group(analytics, user_id="u1", group_id="g1", name="Acme", employees=12)
    events.products_searched_sync(client, user_id="u1", query="socks", extra_properties={"page": 2})
"""
BAD_USE = """\
from analytics_async import Analytics
import events


async def checkout(analytics: Analytics) -> None:
    await events.order_completed(analytics, order_id="o1", total="12.5", revenue=10, currency="EUR")
    await events.order_completed(analytics, order_id="o1", total=1, currency="EUR")
    await events.order_completed(analytics, order_id="o1", total=1, revenue=1, currency="YEN")
    await events.order_completed(analytics, order_id="o1", total=1, revenue=1, currency="EUR", colour="red")
    await events.cart_viewed(analytics, cart_id="c", products=[{"product_id": "p"}])
"""


def _run(argv: list[str], cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_the_generated_module_is_strictly_typed_and_catches_mistakes(tmp_path: pathlib.Path) -> None:
    """mypy --strict and ruff pass on the module and on right calls; each wrong call is a mypy error."""
    shutil.copy(COMMITTED, tmp_path / "events.py")
    (tmp_path / "good.py").write_text(GOOD_USE)
    (tmp_path / "bad.py").write_text(BAD_USE)
    mypy = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--no-incremental",
        "--cache-dir",
        str(tmp_path / ".mypy"),
    ]
    good = subprocess.run(
        [*mypy, "events.py", "good.py"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert good.returncode == 0, good.stdout
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,B,UP,ANN,N",
         "--line-length", "110", "events.py"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout
    bad = subprocess.run(
        [*mypy, "events.py", "bad.py"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    errors = sorted({int(line.split(":")[1]) for line in bad.stdout.splitlines() if ": error:" in line})
    assert errors == [6, 7, 8, 9, 10], bad.stdout  # the wrong type, missing, enum, unknown, nested


@pytest.mark.slow
def test_from_a_plan_file_to_a_clean_check_of_what_arrived(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Generate, call through the module (async and sync) into a recording sink, `plan check` it: 0.

    Then an off-plan event sent around the module makes `plan check` print it and exit 1.
    """
    assert main(["plan", "codegen", str(EXAMPLE), "-o", str(tmp_path / "shop_events.py")]) == 0
    events = load_module(tmp_path / "shop_events.py")
    record = tmp_path / "arrived.jsonl"
    plan = TrackingPlan.load(EXAMPLE)
    with sink_in_thread(SegmentSink(record=record)) as sink:

        async def send() -> None:
            async with Analytics(write_key="wk", host=sink.url) as analytics:
                await analytics.register(plan.plugin(on_violation="raise", on_unplanned="raise"))
                await events.order_completed(
                    analytics, user_id="u1", order_id="o1", total=12.5, revenue=10, currency="EUR",
                    products=[{"product_id": "p1", "price": 10.0}],
                )  # fmt: skip
                await events.identify(analytics, user_id="u1", email="ada@example.com")
                await events.coupon_applied(
                    analytics, user_id="u1", order_id="o1", coupon_id="C", coupon_name=None
                )

        asyncio.run(send())
        client = Client("wk", host=sink.url, plan=plan, on_violation="raise")
        events.order_refunded_sync(client, user_id="u1", order_id="o1", amount=3, reason="late")
        client.shutdown()
        assert len(sink.events) == 4
        assert_conforms(sink.events, EXAMPLE)
    capsys.readouterr()
    assert main(["plan", "check", "--plan", str(EXAMPLE), str(record)]) == 0
    assert (
        capsys.readouterr().out == "checked 4 events against 'E-commerce': 0 break the plan (0 violations)\n"
    )

    with sink_in_thread(SegmentSink(record=record)) as sink:
        loose = Client("wk", host=sink.url)
        loose.track(
            "u1", "Order Completed", {"order_id": "o2", "total": "1", "revenue": 1, "currency": "EUR"}
        )
        loose.track("u1", "Order Complete")
        loose.shutdown()
        with pytest.raises(AssertionError, match="2 violations of 'E-commerce'"):
            assert_conforms(sink.events, plan)
    assert main(["plan", "check", "--plan", str(EXAMPLE), str(record)]) == 1
    table = capsys.readouterr().out.splitlines()
    assert table[1].split()[:3] == ["Order", "Complete", "event"]
    assert "properties.total" in table[2]
    assert table[-1] == "checked 6 events against 'E-commerce': 2 break the plan (2 violations)"
    assert main(["plan", "check", "--plan", str(EXAMPLE), str(record), "--allow-unplanned"]) == 1
