"""The sink's Source Debugger page, in a real headless Chromium (Playwright driving Debian's chromium).

What a person sees: rows appear as events arrive, filters and search narrow them, a row opens into
its JSON with the batch's masked headers, an injected 503 shows on its request, faults set on the page
reach the sink, a `<script>` in an event never runs, a 20,000-event burst keeps the list at its bound,
plan violations are marked with their path. Screenshots of the main views are taken each run; with
`UPDATE_SCREENSHOTS=1` they are copied to docs/ (commit them when they change).
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from analytics_async import Analytics
from analytics_async._lifecycle.plugin import EVENT_TYPES
from analytics_async.testing import Faults, SegmentSink

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DOCS = pathlib.Path(__file__).parent.parent / "docs"
PLAN = pathlib.Path(__file__).parent.parent / "examples" / "plans" / "ecommerce-plan.json"

try:
    from playwright.async_api import Page, async_playwright
except ImportError:  # pragma: no cover - CI installs it (the test extra)
    async_playwright = None  # type: ignore[assignment]


def _browser_or_skip() -> str:
    if async_playwright is None or CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have playwright (pip) and chromium (apt-get install chromium)")
        pytest.skip("needs playwright and a chromium browser")
    return CHROMIUM


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A page of headless Chromium, 1280x800."""
    executable = _browser_or_skip()
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            # bypass_csp: Playwright waits by evaluating strings, which the page's CSP refuses; the
            # page must be safe without its CSP (event content rendered as text), so tests run so.
            page = await browser.new_page(viewport={"width": 1280, "height": 800}, bypass_csp=True)
            yield page
        finally:
            await browser.close()


async def _send(sink: SegmentSink, calls: list[tuple[str, dict[str, Any]]], **settings: Any) -> Analytics:
    analytics = Analytics(write_key="secret-write-key-123", host=sink.url, **settings)
    for method, kwargs in calls:
        await getattr(analytics, method)(**kwargs)
    await analytics.flush(close=True, timeout=10)
    return analytics


async def _rows(page: Page) -> int:
    return await page.locator("tr.row").count()


def _screenshot_path(tmp_path: pathlib.Path, name: str) -> pathlib.Path:
    return tmp_path / f"debugger-{name}.png"


def _keep_screenshot(path: pathlib.Path) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copy(path, DOCS / path.name)


async def test_events_appear_filter_search_and_open_into_their_json(
    page: Page, tmp_path: pathlib.Path
) -> None:
    """Rows within a second of delivery; type, name and user filters and search narrow them; JSON opens."""
    async with SegmentSink(ui=True) as sink:
        await page.goto(sink.url + "/")
        await page.wait_for_selector("#status.live", timeout=5_000)
        calls = [("identify", {"user_id": f"user-{i}", "traits": {"plan": "pro"}}) for i in range(3)]
        calls += [
            ("track", {"user_id": f"user-{i}", "event": "Order Completed", "properties": {"revenue": i}})
            for i in range(4)
        ]
        calls += [("page", {"anonymous_id": "anon-9", "name": "Pricing", "properties": {"path": "/pricing"}})]
        await _send(sink, calls)
        await page.wait_for_function("document.querySelectorAll('tr.row').length === 8", timeout=1_000)
        assert await page.locator("#count-events").text_content() == "8"
        newest = page.locator("tr.row").first
        assert await newest.get_attribute("data-type") == "page"  # newest first

        await page.select_option("#filter-type", "identify")
        await page.wait_for_function("document.querySelectorAll('tr.row').length === 3")
        await page.select_option("#filter-type", "")
        await page.fill("#filter-event", "order")
        await page.wait_for_function("document.querySelectorAll('tr.row').length === 4")
        await page.fill("#filter-user", "user-2")
        await page.wait_for_function("document.querySelectorAll('tr.row').length === 1")
        await page.fill("#filter-event", "")
        await page.fill("#filter-user", "")
        await page.fill("#search", "/pricing")
        await page.wait_for_function("document.querySelectorAll('tr.row').length === 1")
        await page.fill("#search", "")
        await page.wait_for_function("document.querySelectorAll('tr.row').length === 8")

        await page.locator("tr.row", has_text="Order Completed").first.click()
        detail = await page.locator("#detail-json").text_content()
        assert detail is not None
        assert '"event": "Order Completed"' in detail
        headers = await page.locator("#batch-headers").text_content()
        assert headers is not None
        assert "Authorization: Basic ••••••" in headers
        page_text = await page.content()
        assert "secret-write-key" not in page_text
        assert "c2VjcmV0" not in page_text  # nor its base64 (the Basic credentials)
        shot = _screenshot_path(tmp_path, "events")
        await page.screenshot(path=str(shot))
        _keep_screenshot(shot)


async def test_keyboard_search_move_and_open(page: Page) -> None:
    """`/` focuses the search, `j`/`k` move the selection, Enter opens the selected event.

    The events were sent before the page opened: it shows what the sink kept.
    """
    async with SegmentSink(ui=True) as sink:
        await _send(sink, [("track", {"user_id": "u", "event": f"Step {i}"}) for i in range(3)])
        await page.goto(sink.url + "/")
        await page.wait_for_selector("#status.live")
        await page.wait_for_function("document.querySelectorAll('tr.row').length === 3", timeout=1_000)
        await page.keyboard.press("/")
        assert await page.evaluate("document.activeElement.id") == "search"
        await page.keyboard.press("Escape")
        await page.keyboard.press("j")
        await page.keyboard.press("j")
        await page.keyboard.press("k")
        await page.keyboard.press("Enter")
        detail = await page.locator("#detail-json").text_content()
        assert detail is not None
        assert '"event": "Step 2"' in detail  # the newest, first row: j, j, k lands back on row 1


async def test_script_in_an_event_is_shown_as_text_and_never_runs(page: Page) -> None:
    """Event content is rendered as text: a `<script>` or an `onerror` attribute does nothing."""
    async with SegmentSink(ui=True) as sink:
        await page.goto(sink.url + "/")
        await page.wait_for_selector("#status.live")
        evil = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned = 2'>"
        await _send(sink, [("track", {"user_id": evil, "event": evil, "properties": {"html": evil}})])
        await page.wait_for_selector("tr.row", timeout=1_000)
        await page.locator("tr.row").first.click()
        await asyncio.sleep(0.2)  # an injected image would have failed to load and fired by now
        assert await page.evaluate("window.__pwned === undefined")
        assert await page.locator("img").count() == 0
        assert await page.locator("tr.row td").nth(2).text_content() == evil


async def test_an_injected_503_shows_on_its_request_and_faults_are_set_from_the_page(
    page: Page, tmp_path: pathlib.Path
) -> None:
    """A request the sink failed on purpose is marked with its fault; the fault form changes the sink."""
    async with SegmentSink(ui=True, faults=Faults(error_rate=1.0, seed=1)) as sink:
        await page.goto(sink.url + "/")
        await page.wait_for_selector("#status.live")
        await _send(sink, [("track", {"user_id": "u", "event": "Lost"})], max_retries=0)
        await page.click("#tab-requests")
        marked = page.locator('tr.req[data-status="503"][data-fault="503"]')
        await marked.wait_for(timeout=1_000)
        assert await page.input_value("#f-error_rate") == "1"
        await page.fill("#f-error_rate", "0")
        await page.click("#apply-faults")
        await page.wait_for_function("document.getElementById('faults-result').textContent === 'applied'")
        assert sink.faults.error_rate == 0
        await _send(sink, [("track", {"user_id": "u", "event": "Kept"})], max_retries=0)
        await page.locator('tr.req[data-status="200"]').wait_for(timeout=1_000)
        await marked.click()
        headers = await page.locator("#request-headers").text_content()
        assert headers is not None
        assert "X-Retry-Count" not in headers or "X-Retry-Count: 0" in headers
        shot = _screenshot_path(tmp_path, "requests")
        await page.screenshot(path=str(shot))
        _keep_screenshot(shot)
        # Out of range: the form refuses it, and so does the server, with the reason.
        answer = await page.evaluate(
            "fetch('/ui/faults', {method: 'POST', body: JSON.stringify({error_rate: 2})})"
            ".then(async (r) => [r.status, (await r.json()).error])"
        )
        assert answer[0] == 400
        assert "error_rate must be a number from 0 to 1" in answer[1]
        assert sink.faults.error_rate == 0


async def test_a_20k_burst_keeps_the_list_at_its_bound_and_the_page_responsive(page: Page) -> None:
    """20,000 events: all counted, the page keeps `keep` rows, the server keeps `keep` events."""
    async with SegmentSink(ui=True, keep=500) as sink:
        await page.goto(sink.url + "/")
        await page.wait_for_selector("#status.live")
        await _send(sink, [("track", {"user_id": f"u{i}", "event": "Burst"}) for i in range(20_000)])
        await page.wait_for_function(
            "document.getElementById('count-events').textContent === (20000).toLocaleString()", timeout=10_000
        )
        await page.wait_for_function("document.querySelectorAll('tr.row').length === 500")
        assert sink.debugger is not None
        assert len(sink.debugger.events) == 500
        assert len(sink.debugger.requests) <= 500
        started = asyncio.get_running_loop().time()
        await page.keyboard.press("/")  # responsive: a key press is handled at once
        assert await page.evaluate("document.activeElement.id") == "search"
        assert asyncio.get_running_loop().time() - started < 1.0


async def test_plan_violations_are_marked_with_their_path(page: Page, tmp_path: pathlib.Path) -> None:
    """With a tracking plan, an event that breaks it is flagged on its row and explained in its detail."""
    pytest.importorskip("jsonschema_rs")
    from analytics_async.plans import TrackingPlan  # noqa: PLC0415 - the plans extra

    async with SegmentSink(ui=True, plan=TrackingPlan.load(PLAN)) as sink:
        await page.goto(sink.url + "/")
        await page.wait_for_selector("#status.live")
        good = {"order_id": "o-1", "total": 30.0, "revenue": 25.0, "currency": "EUR"}
        bad = {"order_id": "o-2", "total": "thirty", "revenue": 25.0, "currency": "EUR"}
        await _send(sink, [
            ("track", {"user_id": "u", "event": "Order Completed", "properties": good}),
            ("track", {"user_id": "u", "event": "Order Completed", "properties": bad}),
        ])  # fmt: skip
        await page.wait_for_function("document.querySelectorAll('tr.row').length === 2", timeout=1_000)
        flagged = page.locator("tr.row.violation")
        assert await flagged.count() == 1
        assert "properties.total" in (await flagged.text_content() or "")
        await flagged.click()
        box = await page.locator(".violation-box").text_content()
        assert box is not None
        assert "properties.total" in box
        assert await page.locator("#count-violations").text_content() == "1"
        shot = _screenshot_path(tmp_path, "violation")
        await page.screenshot(path=str(shot))
        _keep_screenshot(shot)


def test_import_analytics_async_loads_nothing_of_the_page() -> None:
    """The debugger (and its page) is loaded only by a sink with `ui=True`."""
    code = "import sys, analytics_async, analytics_async.testing\n"
    code += "print('analytics_async._cli.debugger' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_page_is_a_few_kb_and_loads_nothing_from_elsewhere() -> None:
    """One file, no external script, style or font (no CDN)."""
    from importlib.resources import files  # noqa: PLC0415

    html = files("analytics_async._cli").joinpath("debugger.html").read_text(encoding="utf-8")
    assert len(html.encode()) < 32_000
    assert "http://" not in html
    assert "https://" not in html
    assert "innerHTML" not in html  # event content goes through textContent only


def test_demo_ui_ends_on_the_page_full_of_its_events_until_sigint() -> None:
    """`demo --ui` in a real process: the page's state holds every demo event; SIGINT ends it, exit 0."""
    import json  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    process = subprocess.Popen(
        [sys.executable, "-m", "analytics_async", "demo", "--users", "3", "--ui"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    try:
        url = ""
        for line in process.stdout:
            if line.startswith("Source Debugger: open "):
                url = line.split()[3]
                break
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "ui/state", timeout=10) as answer:
            state = json.loads(answer.read())
        assert len(state["events"]) == 24  # 3 users x 8 calls, as the sink received them
        assert {e["event"]["type"] for e in state["events"]} == set(EVENT_TYPES)
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert b"Source Debugger" in answer.read()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()


async def test_a_hanging_request_is_shown_as_hanging_while_it_hangs() -> None:
    """The page's state marks a request the sink hangs on purpose before any answer exists."""
    import aiohttp  # noqa: PLC0415

    async with SegmentSink(ui=True, faults=Faults(hang_rate=1.0)) as sink, aiohttp.ClientSession() as session:
        body = {"batch": [{"type": "track", "event": "E", "userId": "u", "messageId": "m1"}]}
        posting = asyncio.ensure_future(
            session.post(sink.url + "/v1/batch", json=body, headers={"Authorization": "Basic a2V5Og=="})
        )
        assert sink.debugger is not None
        for _ in range(200):
            await asyncio.sleep(0.005)
            if sink.debugger.requests and sink.debugger.requests[0]["fault"] == "hang":
                break
        request = sink.debugger.requests[0]
        assert (request["fault"], request["status"]) == ("hang", None)
        posting.cancel()


async def test_a_rejected_request_shows_why_on_its_own_record() -> None:
    """Two rejected requests at once: each record carries its own reason (not the latest one's)."""
    import aiohttp  # noqa: PLC0415

    async with SegmentSink(ui=True) as sink, aiohttp.ClientSession() as session:
        auth = {"Authorization": "Basic a2V5Og=="}
        await asyncio.gather(
            session.post(sink.url + "/v1/batch", data=b"{not json", headers=auth),
            session.post(sink.url + "/v1/batch", data=b"{}"),  # no Authorization
        )
        assert sink.debugger is not None
        reasons = {r["status"]: r["reason"] for r in sink.debugger.requests}
        assert reasons == {400: "body is not valid JSON", 401: "missing or malformed Authorization header"}
        assert all(r["fault"] is None for r in sink.debugger.requests)
