"""Small helpers shared by the tests."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib.util
import pathlib
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from analytics_async import Analytics, Context, ErrorEvent
from analytics_async.testing import FakeClock, Responder, SegmentSink


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `condition()` holds: for effects that cross the loopback network, not for timing."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.002)


def statuses(*codes: int, then: int = 200, headers: dict[str, str] | None = None) -> Responder:
    """A responder answering the given statuses in order, then `then` (200 lets the sink record)."""

    async def respond(request: web.Request, n: int) -> web.StreamResponse | None:
        status = codes[n - 1] if n <= len(codes) else then
        if status == 200:
            return None
        await request.read()
        return web.Response(status=status, headers=headers)

    return respond


def our_tasks() -> list[asyncio.Task[object]]:
    """Tasks of the library still alive in this loop (the batcher and batch sends)."""
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and ("analytics_async" in t.get_name() or "_send" in repr(t.get_coro()))
    ]


async def drive(clock: FakeClock, task: asyncio.Future[Any], step: float = 1.0, limit: float = 10.0) -> None:
    """Advance `clock` by `step` until `task` is done (bounded by `limit` real seconds)."""
    async with asyncio.timeout(limit):
        while not task.done():
            await clock.advance(step)
            await asyncio.sleep(0.001)


def accounted(analytics: Analytics, ctxs: list[Context], sink: SegmentSink, errors: list[ErrorEvent]) -> None:
    """Every event was delivered exactly once or failed with an error event; the counters add up."""
    ids = [e["messageId"] for e in sink.events]
    assert len(ids) == len(set(ids)), "an event arrived twice"
    failed_ctx = {id(e.ctx) for e in errors if e.code == "delivery_failure"}
    for ctx in ctxs:
        if ctx.failed_delivery() is None:
            assert ctx.event["messageId"] in ids
        else:
            assert ctx.event["messageId"] not in ids
            assert id(ctx) in failed_ctx
    stats = analytics.stats()
    assert stats.accepted == len(ctxs)
    assert stats.delivered == len(ids)
    assert stats.accepted == stats.delivered + sum(stats.failed.values()) + sum(stats.dropped.values())
    assert len(failed_ctx) == sum(stats.failed.values()) + sum(stats.dropped.values())


class InFlight:
    """A responder that answers after `delay` seconds and records the most requests open at once."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.open = 0
        self.peak = 0

    async def __call__(self, request: web.Request, n: int) -> None:
        """Count the request as open while it waits."""
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.open -= 1


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def serve_40_requests(argv: list[str], port: int, env: dict[str, str], settle: float = 0.0) -> bytes:
    """Start the server, wait until it answers, make 40 requests, stop it by SIGTERM; its output.

    `settle`: seconds between the last answer and the SIGTERM (a worker may still be finishing it).
    """
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(30):
                while True:
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/ready") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)

            async def call(i: int) -> int:
                async with session.get(f"http://127.0.0.1:{port}/r{i}") as response:
                    return response.status

            assert await asyncio.gather(*(call(i) for i in range(40))) == [200] * 40
            await asyncio.sleep(settle)
    finally:
        process.send_signal(signal.SIGTERM)
        output = await finish(process, 30)
    return output


def hold_answers(sink: SegmentSink) -> asyncio.Event:
    """Make `sink` hold every request unanswered until the returned event is set."""
    release = asyncio.Event()

    async def held(request: web.Request, n: int) -> None:
        await release.wait()

    sink.responder = held
    return release


@contextlib.contextmanager
def sink_in_thread(sink: SegmentSink, ssl_context: ssl.SSLContext | None = None) -> Iterator[SegmentSink]:
    """Serve `sink` (HTTPS with `ssl_context`) from its own thread and loop until the block ends."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(sink.start(ssl_context=ssl_context))
        ready.set()
        loop.run_forever()
        loop.run_until_complete(sink.stop())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield sink
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def load_module(path: pathlib.Path, name: str | None = None) -> ModuleType:
    """Import the Python file at `path` as module `name` (its stem by default), registered in sys.modules."""
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def finish(process: asyncio.subprocess.Process, timeout: float, *, stacks: bool = False) -> bytes:
    """The process's output (its stdout pipe) once it has ended, at most `timeout` seconds; else fail.

    A process still running then is killed and its pipe read to the end (10 s at most), so that a
    hang fails its own test with what the process printed, and leaves no open transport behind for
    a later test to trip over. `stacks`: the process registered `faulthandler` for SIGUSR2; it is
    sent that first, and the failure shows every thread's stack.
    """
    stdout = process.stdout
    assert stdout is not None, "started with stdout=PIPE"
    output = bytearray()

    async def drain() -> None:
        while chunk := await stdout.read(65536):
            output.extend(chunk)
        await process.wait()

    reader = asyncio.ensure_future(drain())
    try:
        await asyncio.wait_for(asyncio.shield(reader), timeout)
    except TimeoutError:
        if stacks and process.returncode is None:
            process.send_signal(signal.SIGUSR2)
            await asyncio.sleep(1)  # only on the way to failing: the dump is written meanwhile
        if process.returncode is None:
            process.kill()
        with contextlib.suppress(TimeoutError):  # a child of its own may still hold the pipe open
            await asyncio.wait_for(reader, 10)
        pytest.fail(f"still running after {timeout:g} s; its output (and threads):\n{output.decode()}")
    return bytes(output)


def loaded_modules(code: str, names: Iterable[str]) -> list[str]:
    """Of `names`, those loaded once `code` has run in a fresh interpreter (sorted)."""
    script = f"{code}\nimport sys\nprint(sorted(m for m in {tuple(names)!r} if m in sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded: list[str] = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    return loaded
