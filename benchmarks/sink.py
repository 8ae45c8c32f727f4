"""A fast counting sink for the benchmarks, run as its own process so its CPU is not the client's.

POST /v1/batch counts events and duplicate messageIds; GET /stats reports; POST /reset clears;
POST /mode/NAME injects a fault (see MODES) until the next mode.
Prints `listening <url>` once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip

import orjson
from aiohttp import web

MODES = ("ok", "503", "reset", "429", "hang", "lost", "slow")
"""Faults for benchmarks/soak.py (POST /mode/NAME): answer 503; reset the connection before reading;
429 with Retry-After: 2; accept and never answer; record the events, then answer 500 (a lost response);
answer every batch after 200 ms (benchmarks/latency.py's slow server)."""


class Counts:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.events = 0
        self.ids: set[str] = set()
        self.duplicates = 0
        self.mode = "ok"
        self.lost = 0  # events recorded under "lost": the client was told 500 and sends them again


def make_app(counts: Counts) -> web.Application:
    async def batch(request: web.Request) -> web.StreamResponse:
        mode = counts.mode
        if mode == "503":
            return web.Response(status=503)
        if mode == "429":
            return web.Response(status=429, headers={"Retry-After": "2"})
        if mode == "reset" and request.transport is not None:
            request.transport.abort()
            return web.Response(status=500)
        if mode == "hang":
            while counts.mode == "hang":  # noqa: ASYNC110 - polled: the mode is plain state
                await asyncio.sleep(0.05)
            return web.Response(status=503)
        raw = await request.read()
        if mode == "slow":
            await asyncio.sleep(0.2)
        if request.headers.get("Content-Encoding") == "gzip" and raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        body = orjson.loads(raw)
        counts.requests += 1
        for event in body["batch"]:
            counts.events += 1
            message_id = event["messageId"]
            if message_id in counts.ids:
                counts.duplicates += 1
            else:
                counts.ids.add(message_id)
        if mode == "lost":
            counts.lost += len(body["batch"])
            return web.Response(status=500)
        return web.Response(body=b'{"success":true}', content_type="application/json")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {"requests": counts.requests, "events": counts.events, "unique": len(counts.ids),
             "duplicates": counts.duplicates, "lost": counts.lost}
        )  # fmt: skip

    async def reset(request: web.Request) -> web.Response:
        counts.reset()
        return web.json_response({"ok": True})

    async def mode(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in MODES:
            return web.json_response({"error": f"mode must be one of {MODES}"}, status=400)
        counts.mode = name
        return web.json_response({"mode": name})

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_post("/v1/batch", batch)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    app.router.add_post("/mode/{name}", mode)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    port = parser.parse_args().port
    app = make_app(Counts())

    async def announce(app: web.Application) -> None:
        for site in runner.sites:
            server = site._server  # noqa: SLF001 - the bound port
            print(f"listening http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)  # type: ignore[union-attr]

    runner = web.AppRunner(app, access_log=None)

    async def serve() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await announce(app)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
