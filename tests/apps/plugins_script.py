"""A script as a user runs one: two plugins of each stage, N events, then exit (tests/test_plugins.py).

A destination and an after hook are plain functions, the other two callable objects.

    python tests/apps/plugins_script.py URL N

Prints one JSON line: how many events each destination and after plugin saw, and the callbacks.
"""

from __future__ import annotations

import asyncio
import json
import sys

from analytics_async import Analytics, Context, SimplePlugin, ValidationError


async def main(url: str, events: int) -> None:
    seen: dict[str, int] = {}

    def count(name: str) -> object:
        def hook(ctx: Context) -> None:
            seen[name] = seen.get(name, 0) + 1

        return hook

    class Counter:  # a callable object as a hook: called through its class's `__call__`
        def __init__(self, name: str) -> None:
            self.name = name

        def __call__(self, ctx: Context) -> None:
            seen[self.name] = seen.get(self.name, 0) + 1

    async def stamp(ctx: Context) -> None:
        await asyncio.sleep(0)
        ctx.update_event("context.stamped", True)

    def tenant(ctx: Context) -> None:  # two writes under one key: `context` is copied once
        ctx.update_event("context.tenant", "acme")
        ctx.update_event("context.consent", "granted")

    analytics = Analytics(write_key="script", host=url)
    await analytics.register(
        SimplePlugin(name="b0", type="before", hook=lambda ctx: None),
        SimplePlugin(name="b1", type="before", hook=stamp),  # a coroutine hook: the awaiting path
        SimplePlugin(name="e0", type="enrichment", hook=tenant),
        SimplePlugin(name="e1", type="enrichment", hook=lambda ctx: None),
        SimplePlugin(name="d0", type="destination", hook=count("d0")),  # type: ignore[arg-type]
        SimplePlugin(name="d1", type="destination", hook=Counter("d1")),
        SimplePlugin(name="a0", type="after", hook=count("a0")),  # type: ignore[arg-type]
        SimplePlugin(name="a1", type="after", hook=Counter("a1")),
    )
    called = 0

    def callback(err: Exception | None, ctx: Context) -> None:
        nonlocal called
        called += 1

    refused = 0
    shared = {"campaign": "spring"}  # the caller's own dict, passed to every call: never changed
    for i in range(events):
        await analytics.track(
            event="Order Completed", user_id=f"u{i}", properties={"n": i}, context=shared, callback=callback
        )
        if i % 1000 == 0:  # a value JSON cannot carry: the call raises, nothing is sent
            try:
                await analytics.track(event="Bad", user_id=f"u{i}", properties={"at": object()})
            except ValidationError:
                refused += 1
    await analytics.flush(close=True, timeout=30)
    report = {"seen": seen, "callbacks": called, "refused": refused, "shared": shared}
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
