"""The command line, end to end in subprocesses: sink (with fault injection), send, help."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from aiohttp import web

from analytics_async.testing import SegmentSink

from .helpers import finish

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "analytics_async"]


class RunningSink:
    """`analytics-async sink` in a subprocess; `url` is read from its first line."""

    def __init__(self, *options: str) -> None:
        self.process = subprocess.Popen(
            [*CLI, "sink", "--port", "0", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert match, first
        self.url = match.group(0)

    def stop(self) -> str:
        """Send SIGTERM and return everything the sink printed."""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.stdout is not None
        out = self.process.stdout.read()  # through the same buffer readline() filled
        self.process.stdout.close()
        assert self.process.wait(timeout=20) == 0, out
        return out


@pytest.fixture
def cli_sink() -> Iterator[RunningSink]:
    sink = RunningSink()
    yield sink
    if sink.process.poll() is None:
        sink.process.kill()
    sink.process.communicate(timeout=20)  # reaps it and closes the pipe, if stop() did not


def send(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "send", *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_send_every_type_to_the_sink(cli_sink: RunningSink) -> None:
    """send delivers each call type; the sink prints each event and a summary on SIGTERM."""
    env = {**os.environ, "SEGMENT_WRITE_KEY": "cli-key"}
    calls = [
        ["track", "--user-id", "u1", "--event", "Signed Up", "--properties", '{"plan": "pro"}'],
        ["identify", "--user-id", "u1", "--traits", '{"email": "a@b.c"}'],
        ["page", "--anonymous-id", "a1", "--name", "Pricing", "--category", "Marketing"],
        ["screen", "--user-id", "u1", "--name", "Feed"],
        ["group", "--user-id", "u1", "--group-id", "org-1"],
        ["alias", "--user-id", "u1", "--previous-id", "a1"],
    ]
    for call in calls:
        result = send(*call, "--host", cli_sink.url, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith(f"delivered {call[0]} messageId=")
    out = cli_sink.stop()
    assert "Signed Up" in out
    assert "Marketing / Pricing" in out
    assert "Summary after" in out
    assert "6 requests, 6 batches, 6 events" in out
    assert "alias=1, group=1, identify=1, page=1, screen=1, track=1" in out
    assert "cli-key" not in out


def test_send_reports_invalid_input_and_missing_key(cli_sink: RunningSink) -> None:
    """Invalid input exits 2 naming the field; a missing write key is a clear error."""
    env = {k: v for k, v in os.environ.items() if k != "SEGMENT_WRITE_KEY"}
    result = send("track", "--host", cli_sink.url, "--write-key", "k", "--event", "E", env=env)
    assert result.returncode == 2
    assert "user_id" in result.stdout
    result = send("track", "--host", cli_sink.url, "--user-id", "u", "--event", "E", env=env)
    assert result.returncode == 2
    assert "SEGMENT_WRITE_KEY" in result.stderr
    result = send("track", "--host", cli_sink.url, "--write-key", "k", "--user-id", "u", "--event", "E",
                  "--properties", "[1]", env=env)  # fmt: skip
    assert result.returncode == 2
    assert "JSON object" in result.stderr


def test_sink_fault_injection() -> None:
    """With every request answered 503, send fails after its retries and the sink counts the faults."""
    sink = RunningSink("--error-rate", "1", "--error-status", "503")
    try:
        result = send("track", "--host", sink.url, "--write-key", "k", "--user-id", "u", "--event", "E",
                      "--max-retries", "0")  # fmt: skip
        assert result.returncode == 1
        assert "[503] Service Unavailable" in result.stdout
    finally:
        out = sink.stop()
    assert "Injecting faults" in out
    assert "injected faults: 503=1" in out
    assert "0 events" in out


def test_sink_rate_limit_injection_is_survived() -> None:
    """A sink answering some requests 429 (Retry-After 0) still gets every event once."""
    sink = RunningSink("--rate-limit-rate", "0.5", "--retry-after", "0", "--seed", "3", "--quiet")
    try:
        for i in range(4):
            result = send(
                "track", "--host", sink.url, "--write-key", "k", "--user-id", "u", "--event", f"E{i}"
            )
            assert result.returncode == 0, result.stdout
    finally:
        out = sink.stop()
    assert "4 events" in out
    assert "injected faults: 429=" in out
    assert "E0" not in out  # --quiet prints only the summary


@pytest.mark.parametrize("command", [[], ["demo"], ["sink"], ["send"]])
def test_help_is_complete(command: list[str]) -> None:
    """--help works for the program and each command and mentions what matters."""
    result = subprocess.run([*CLI, *command, "--help"], capture_output=True, text=True, check=True)
    assert "usage:" in result.stdout
    expected = {"": ["demo", "sink", "send"], "sink": ["--error-rate", "--latency", "--retry-after"],
                "send": ["--write-key", "SEGMENT_WRITE_KEY", "--host"], "demo": ["--users"]}  # fmt: skip
    for word in expected[command[0] if command else ""]:
        assert word in result.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["send", "track", "--write-key", "k", "--user-id", "u", "--event", "E", "--properties", "{bad"],
        ["send", "track", "--write-key", "k", "--user-id", "u", "--event", "E", "--host", "ftp://x"],
        ["send", "track", "--write-key", "k", "--user-id", "u", "--event", "E", "--max-retries", "-1"],
        ["send", "track", "--write-key", "bad key", "--user-id", "u", "--event", "E"],
        ["sink", "--port", "99999"],
        ["sink", "--error-rate", "2"],
        ["sink", "--latency", "-1"],
        ["sink", "--error-status", "42"],
        ["demo", "--users", "0"],
    ],
    ids=[
        "bad JSON",
        "bad host",
        "negative retries",
        "bad key",
        "port",
        "error rate",
        "latency",
        "status",
        "users",
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(argv: list[str]) -> None:
    """Every bad input: exit code 2, the reason on the last line of stderr, no traceback."""
    result = subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "error:" in last


def test_sink_port_in_use_is_one_line_and_exit_1(cli_sink: RunningSink) -> None:
    """A port already taken: one line naming it, exit code 1."""
    port = cli_sink.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [*CLI, "sink", "--port", port], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_sink_honours_host() -> None:
    """--host is the address listened on (any loopback address here)."""
    sink = subprocess.Popen(
        [*CLI, "sink", "--port", "0", "--host", "127.0.0.2", "--duration", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert sink.stdout is not None
    first = sink.stdout.readline()
    sink.terminate()
    sink.communicate(timeout=20)
    assert "http://127.0.0.2:" in first


def e2e(spec: object) -> dict[str, object]:
    """Run e2e-cli with `spec` as --input; its last stdout line, parsed (exit code 0 checked)."""
    raw = spec if isinstance(spec, str) else json.dumps(spec)
    result = subprocess.run(
        [*CLI, "e2e-cli", "--input", raw], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def test_e2e_cli_runs_a_harness_scenario(cli_sink: RunningSink) -> None:
    """Two sequences of Segment message objects: all sent in order; success and the batch count."""
    spec = {
        "writeKey": "e2e-key",
        "apiHost": cli_sink.url,
        "config": {"flushAt": 2, "flushInterval": 100, "maxRetries": 1, "timeout": 5},
        "sequences": [
            {"delayMs": 0, "events": [
                {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}},
                {"type": "track", "userId": "u1", "event": "Signed Up", "properties": {"x": 1},
                 "messageId": "e2e-1", "timestamp": "2026-01-01T00:00:00.000Z"},
            ]},
            {"delayMs": 20, "events": [
                {"type": "page", "anonymousId": "a1", "name": "Home"},
                {"type": "group", "userId": "u1", "groupId": "g1"},
                {"type": "alias", "userId": "u1", "previousId": "a1"},
            ]},
        ],
    }  # fmt: skip
    result = e2e(spec)
    assert result["success"] is True
    assert isinstance(result["sentBatches"], int)
    assert result["sentBatches"] >= 1
    assert "error" not in result
    out = cli_sink.stop()
    assert "alias=1, group=1, identify=1, page=1, track=1" in out


async def e2e_against(sink: SegmentSink, config: dict[str, object], *sequences: list[dict[str, object]]
                      ) -> dict[str, object]:  # fmt: skip
    """Run e2e-cli against the in-process `sink` (so its batches can be counted); the result line."""
    spec = {"writeKey": "k", "apiHost": sink.url, "config": config,
            "sequences": [{"delayMs": 0, "events": events} for events in sequences]}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *CLI, "e2e-cli", "--input", json.dumps(spec), stdout=asyncio.subprocess.PIPE
    )
    out = await finish(process, 60)
    assert process.returncode == 0
    parsed: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    return parsed


def track(i: int, **fields: object) -> dict[str, object]:
    return {"type": "track", "userId": "u", "event": f"E{i}", **fields}


@pytest.mark.parametrize(("flush_at", "events", "sizes"), [(1, 4, [1, 1, 1, 1]), (3, 7, [3, 3, 1])])
async def test_e2e_cli_batches_hold_at_most_flush_at(
    sink: SegmentSink, flush_at: int, events: int, sizes: list[int]
) -> None:
    """The events of a sequence are an app's separate calls: batches of at most flushAt.

    As the official SDKs send them (before: one batch of 4 for flushAt 1, one of 7 for flushAt 3).
    """
    result = await e2e_against(sink, {"flushAt": flush_at}, [track(i) for i in range(events)])
    assert [len(batch.events) for batch in sink.batches] == sizes
    assert result == {"success": True, "sentBatches": len(sizes)}


async def test_e2e_cli_sends_every_valid_event_around_an_invalid_one(sink: SegmentSink) -> None:
    """One event without ids among valid ones: the valid ones are all delivered, the invalid one named."""
    first: list[dict[str, object]] = [track(0), {"type": "track", "event": "No ids"}, track(2)]
    result = await e2e_against(sink, {"flushAt": 10}, first, [track(3)])
    assert sorted(e["event"] for e in sink.events) == ["E0", "E2", "E3"]
    assert result["success"] is False
    assert result["sentBatches"] == len(sink.batches)
    assert str(result["error"]).startswith("event 2 is invalid: user_id: user_id or anonymous_id is required")
    assert "_" + "InputError" not in str(result["error"])


async def test_e2e_cli_counts_only_batches_the_server_accepted(sink: SegmentSink) -> None:
    """Every batch refused with a 400: sentBatches 0, the failure's reason in error."""

    async def refuse(request: web.Request, n: int) -> web.StreamResponse:
        await request.read()
        return web.Response(status=400)

    sink.responder = refuse
    result = await e2e_against(sink, {"flushAt": 1, "maxRetries": 0}, [track(0), track(1)])
    assert (result["success"], result["sentBatches"]) == (False, 0)
    assert str(result["error"]).startswith("HTTPStatusError: [400]")


async def test_e2e_cli_timeout_bounds_the_whole_run(sink: SegmentSink) -> None:
    """config.timeout alone against a server that never answers: the run ends after about that long.

    It is each request's timeout and the closing flush's deadline: not 75 s of retries.
    """

    async def hang(request: web.Request, n: int) -> None:
        await sink.hang()

    sink.responder = hang
    started = time.monotonic()
    result = await e2e_against(sink, {"timeout": 1}, [track(0)])
    assert time.monotonic() - started < 15
    assert result["success"] is False
    assert "FlushTimeoutError" in str(result["error"])


def test_e2e_cli_reports_failures_and_bad_input() -> None:
    """A dead host, an invalid event, or input that is not JSON: success false with the error, exit 0."""
    dead = e2e({"writeKey": "k", "apiHost": "http://127.0.0.1:9", "config": {"maxRetries": 0},
                "sequences": [{"events": [{"type": "track", "userId": "u", "event": "E"}]}]})  # fmt: skip
    assert dead["success"] is False
    assert "Connect" in str(dead["error"]) or "connect" in str(dead["error"])
    invalid = e2e(
        {"writeKey": "k", "apiHost": "http://127.0.0.1:9", "sequences": [{"events": [{"type": "track"}]}]}
    )
    assert invalid["success"] is False
    assert str(invalid["error"]) == "event 1 is invalid: event: must be a non-empty str, not NoneType"
    not_json = e2e("{not json")
    assert not_json["success"] is False
    assert str(not_json["error"]).startswith("invalid input: --input is not JSON")
