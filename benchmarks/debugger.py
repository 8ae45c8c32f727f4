"""The sink's Source Debugger under a burst: the server's memory stays bounded by `--keep`.

    python -m benchmarks.debugger [--events 100000] [--write]

Runs `python -m analytics_async sink --ui --quiet` as its own process, sends `--events` awaited
track() calls through the library in rounds of a tenth, and reads the sink's resident memory (VmRSS)
after each round, with a page connected to its stream (an SSE client reading every message) and
without; the events are counted at the sink (`/ui/state` counters). Bounded means: the RSS after the
last round is within a few MB of the RSS after the first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import subprocess
import sys

import aiohttp

from analytics_async import Analytics

ROOT = pathlib.Path(__file__).parent.parent
MARK = "debugger"


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid`, in MB (Linux)."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def read_stream(url: str, seen: list[int]) -> None:
    """A page's stream: read every message until cancelled."""
    async with aiohttp.ClientSession() as session, session.get(url + "/ui/stream") as response:
        async for line in response.content:
            if line.startswith(b"data: "):
                seen[0] += 1


async def burst(url: str, pid: int, events: int, *, page: bool) -> dict[str, object]:
    """Send the burst in 10 rounds; RSS of the sink after each, what it counted and kept."""
    seen = [0]
    reader = asyncio.ensure_future(read_stream(url, seen)) if page else None
    await asyncio.sleep(0.2)
    analytics = Analytics(write_key="bench", host=url)
    rounds = []
    for r in range(10):
        for i in range(events // 10):
            await analytics.track(event="Burst", user_id=f"u{i}", properties={"n": i, "round": r})
        await analytics.flush()
        rounds.append(round(rss_mb(pid), 1))
    await analytics.flush(close=True)
    async with aiohttp.ClientSession() as session, session.get(url + "/ui/state") as answer:
        state = await answer.json()
    if reader is not None:
        reader.cancel()
    return {"rss_mb": rounds, "counted": state["counters"]["events"], "kept": len(state["events"]),
            "messages": seen[0]}  # fmt: skip


def run(events: int, *, page: bool) -> dict[str, object]:
    """One sink process, one burst."""
    process = subprocess.Popen(
        [sys.executable, "-m", "analytics_async", "sink", "--ui", "--quiet", "--port", "0"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        url = process.stdout.readline().split()[-1].removesuffix("/v1/batch")
        return asyncio.run(burst(url, process.pid, events, page=page))
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    lines = [
        f"| sink --ui, {args.events:,} events in 10 rounds | RSS after round 1 | after round 10 | "
        "events counted | kept | SSE messages read |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for page in (False, True):
        result = run(args.events, page=page)
        rss = result["rss_mb"]
        assert isinstance(rss, list)
        assert result["counted"] == args.events, result
        name = "a page reading the stream" if page else "no page"
        lines.append(f"| {name} | {rss[0]} MB | {rss[-1]} MB | {result['counted']:,} | {result['kept']} | "
                     f"{result['messages']:,} |")  # fmt: skip
        print(json.dumps({name: result}))
    table = "\n".join(lines)
    print(table)
    if args.write:
        from benchmarks.report import write_section  # noqa: PLC0415

        intro = (
            "## The Source Debugger under a burst\n\n`python -m benchmarks.debugger --write`: the sink's memory "
            "with `--ui` (keep 1,000) stays bounded\nwhile a burst goes through it.\n\n"
        )
        write_section(ROOT / "docs" / "benchmarks.md", MARK, intro + table + "\n")


if __name__ == "__main__":
    main()
