"""Proxies: the `proxy` setting, HTTPS_PROXY/HTTP_PROXY/NO_PROXY, and the drop-in's `proxies`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from analytics_async import Analytics, ConfigError
from analytics_async.sync import Client
from analytics_async.testing import RecordingClient, SegmentSink


class ForwardProxy:
    """A minimal HTTP forward proxy on 127.0.0.1 that relays requests and records their targets."""

    def __init__(self) -> None:
        self.relayed: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _relay(self, request: web.Request) -> web.Response:
        target = f"http://{request.headers['Host']}{request.path_qs}"
        self.relayed.append(target)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "proxy-connection")}
        async with (
            aiohttp.ClientSession() as session,
            session.request(request.method, target, data=await request.read(), headers=headers) as answer,
        ):
            return web.Response(status=answer.status, body=await answer.read())

    async def start(self) -> None:
        """Listen on a free port."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._relay)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    """A forward proxy on 127.0.0.1."""
    server = ForwardProxy()
    await server.start()
    yield server
    await server.stop()


async def test_proxy_setting_routes_through_the_proxy(sink: SegmentSink, proxy: ForwardProxy) -> None:
    """Analytics(proxy=...) sends every request through that proxy; the events arrive."""
    analytics = Analytics(write_key="k", host=sink.url, proxy=proxy.url)
    await analytics.track(event="E", user_id="u")
    await analytics.flush(close=True)
    assert proxy.relayed == [f"{sink.url}/v1/batch"]
    assert len(sink.events) == 1


async def test_http_proxy_environment_is_honoured(
    sink: SegmentSink, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY routes the request through the proxy; NO_PROXY naming the host bypasses it."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    analytics = Analytics(write_key="k", host=sink.url)
    await analytics.track(event="through", user_id="u")
    await analytics.flush()
    assert len(proxy.relayed) == 1
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    await analytics.track(event="direct", user_id="u")
    await analytics.flush(close=True)
    assert len(proxy.relayed) == 1
    assert [e["event"] for e in sink.events] == ["through", "direct"]


def test_drop_in_proxies_map_to_the_proxy(threaded_sink: SegmentSink) -> None:
    """Client(proxies={"http": ...}) accepts the official SDK's mapping (a bad URL is refused)."""
    with pytest.raises(ConfigError):
        Client("wk", host=threaded_sink.url, proxies={"https": "not a url"})
    client = Client("wk", host=threaded_sink.url, proxies={"http": "http://127.0.0.1:9"})
    assert client.analytics._settings.proxy == "http://127.0.0.1:9"
    client.shutdown(timeout=0)


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"proxy": "ftp://x"}, "http(s) URL"),
        ({"proxy": "http://p:3128", "http_client": RecordingClient()}, "default"),
    ],
)
def test_bad_proxy_settings(settings: dict[str, object], words: str) -> None:
    """A proxy that is not an http(s) URL, or set beside a custom http_client, is a ConfigError."""
    with pytest.raises(ConfigError, match="proxy") as info:
        Analytics(write_key="k", **settings)  # type: ignore[arg-type]
    assert words in str(info.value)
