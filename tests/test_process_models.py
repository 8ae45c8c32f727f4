"""Processes that leave without atexit (os._exit in pool children, SIGTERM) still send their events.

Real processes against a local sink, counted at the sink: every event exactly once.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from analytics_async.testing import SegmentSink

from .helpers import finish

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")]

SCRIPT = Path(__file__).parent / "apps" / "process_models.py"
EXPECTED = Counter(f"e{i}" for i in range(40))


async def run(
    sink: SegmentSink, *argv: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """Run a process to completion with SINK_URL set; return its stdout and stderr."""
    env = env or {**os.environ, "SINK_URL": sink.url}
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output = await finish(process, 120)
    assert process.returncode == 0, output.decode()
    return output.decode()


@pytest.mark.parametrize("scenario", ["pool", "executor", "executor-spawn"])
async def test_children_that_leave_send_every_event_once(sink: SegmentSink, scenario: str) -> None:
    """Pool workers replaced every 5 tasks, executors' workers at shutdown: 40 of 40 events, once each."""
    output = await run(sink, sys.executable, str(SCRIPT), scenario)
    assert Counter(e["event"] for e in sink.events) == EXPECTED, output
    assert "Traceback" not in output


CELERY_POOLS = [
    ["--pool=prefork", "--concurrency=2", "--max-tasks-per-child=5"],
    ["--pool=prefork", "--concurrency=2"],
    ["--pool=solo"],
    ["--pool=threads", "--concurrency=4"],
]


@pytest.mark.parametrize("pool", CELERY_POOLS, ids=" ".join)
async def test_celery_workers_send_every_event_once(
    sink: SegmentSink, tmp_path: Path, pool: list[str]
) -> None:
    """A real Celery worker (filesystem broker) stopped by SIGTERM: 40 of 40 events, once each."""
    if importlib.util.find_spec("celery") is None:
        pytest.skip("celery is not installed (the examples extra)")
    env = {**os.environ, "SINK_URL": sink.url, "CELERY_DATA": str(tmp_path)}
    apps = SCRIPT.parent
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "celery", "-A", "celery_app", "worker", *pool, "--without-heartbeat",
        "--without-gossip", "--without-mingle", "--loglevel=WARNING",
        env=env, cwd=apps, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await run(sink, sys.executable, "celery_app.py", "publish", "40", cwd=apps, env=env)
        for _ in range(600):  # the tasks run, and prefork children leave every 5 tasks
            if not any((tmp_path / "queue").iterdir()) and len(sink.events) >= 40:
                break
            await asyncio.sleep(0.05)
    finally:
        worker.terminate()  # SIGTERM: Celery's warm shutdown, as docker and systemd stop it
        output = await finish(worker, 60)
    assert Counter(e["event"] for e in sink.events) == EXPECTED, output.decode()
    assert b"Traceback" not in output


async def start_signal_script(sink: SegmentSink, scenario: str) -> asyncio.subprocess.Process:
    """tests/apps/signal_script.py in `scenario`, once it says it is ready."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT.parent / "signal_script.py"), sink.url, scenario,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        ready = await asyncio.wait_for(process.stdout.readline(), 30)
    except TimeoutError:
        ready = b""
    if ready != b"ready\n":
        pytest.fail(f"not ready: {ready + await finish(process, 10, stacks=True)!r}")
    return process


@pytest.mark.parametrize(
    ("scenario", "returncode", "delivered"),
    [("flush", -signal.SIGTERM, 150), ("previous", 3, 150), ("restored", -signal.SIGTERM, 0),
     ("none", -signal.SIGTERM, 0)],
)  # fmt: skip
async def test_sigterm_flushes_then_does_what_it_did_before(
    sink: SegmentSink, scenario: str, returncode: int, delivered: int
) -> None:
    """With flush_on_signals(), SIGTERM sends what is queued, then the default action or the app's handler.

    Without it (or once restored), SIGTERM's default action ends the process and the events are lost:
    the library never takes signals over on its own.
    """
    process = await start_signal_script(sink, scenario)
    process.send_signal(signal.SIGTERM)
    output = await finish(process, 30, stacks=True)
    assert process.returncode == returncode, output.decode()
    assert len(sink.events) == delivered
    assert (b"the app's handler ran" in output) == (scenario == "previous")
    assert b"Traceback" not in output


ASYNC_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM}


def blocked_signals(pid: int, tid: int) -> set[int]:
    """The signals thread `tid` of process `pid` blocks, from /proc."""
    status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
    mask = int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)
    return {number for number in range(1, 65) if mask >> (number - 1) & 1}


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the threads' masks from /proc")
async def test_the_librarys_threads_leave_signals_to_the_apps_threads(sink: SegmentSink) -> None:
    """Every thread the library started (its loop's, and the DNS executor's it started) blocks SIGTERM.

    So the kernel hands a process's signal to a thread of the app's, whose handler Python then runs at
    once: a signal taken by another thread waits for the main thread's sleep to end (11 to 18 of 100
    did, with two threads busy with system calls; see analytics_async/_threads/sigmask.py).
    """
    process = await start_signal_script(sink, "threads")
    try:
        tids = [int(task.name) for task in Path(f"/proc/{process.pid}/task").iterdir()]
        others = [tid for tid in tids if tid != process.pid]
        assert len(others) >= 2, "the loop's thread and the executor thread it started"
        assert not ASYNC_SIGNALS & blocked_signals(process.pid, process.pid)
        for tid in others:
            assert blocked_signals(process.pid, tid) >= ASYNC_SIGNALS, tid
            assert signal.SIGSEGV not in blocked_signals(process.pid, tid)
    finally:
        process.send_signal(signal.SIGTERM)
        output = await finish(process, 30, stacks=True)
    assert process.returncode == -signal.SIGTERM, output.decode()
    assert Counter(e["event"] for e in sink.events) == Counter(f"e{i}" for i in range(150))
    assert b"Traceback" not in output
