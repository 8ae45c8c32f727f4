"""A fast counting sink for the benchmarks, run as its own process so its CPU is not the client's.

POST /v1/batch counts events and duplicate messageIds; GET /stats reports; POST /reset clears.
Prints `listening <url>` once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip

import orjson
from aiohttp import web


class Counts:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.events = 0
        self.ids: set[str] = set()
        self.duplicates = 0


def make_app(counts: Counts) -> web.Application:
    async def batch(request: web.Request) -> web.Response:
        raw = await request.read()
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
        return web.Response(body=b'{"success":true}', content_type="application/json")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {"requests": counts.requests, "events": counts.events, "unique": len(counts.ids),
             "duplicates": counts.duplicates}
        )  # fmt: skip

    async def reset(request: web.Request) -> web.Response:
        counts.reset()
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_post("/v1/batch", batch)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
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
