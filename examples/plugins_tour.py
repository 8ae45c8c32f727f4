"""One plugin of each type, as in docs/plugins.md; run: `python examples/plugins_tour.py`.

Sends events to a local Segment-compatible server started in-process and prints what each plugin saw.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Final

from analytics_async import Analytics, Context, SimplePlugin
from analytics_async.testing import SegmentSink


class DropBots:
    """before: refuse events from bots. Raising (or ctx.cancel()) fails the event; it is never sent."""

    name = "Drop bots"
    type: Final = "before"
    version = "1.0.0"

    def is_loaded(self) -> bool:
        return True

    def load(self, ctx: Context, analytics: Analytics) -> None:
        return None

    def track(self, ctx: Context) -> None:
        if str(ctx.event.get("userId", "")).startswith("bot-"):
            ctx.cancel()


class HashEmails:
    """enrichment: replace e-mail addresses in traits by their SHA-256 before they leave the process."""

    name = "Hash e-mails"
    type: Final = "enrichment"
    version = "1.0.0"

    def is_loaded(self) -> bool:
        return True

    async def load(self, ctx: Context, analytics: Analytics) -> None:
        return None

    async def identify(self, ctx: Context) -> Context:
        email = ctx.event.get("traits", {}).get("email")
        if isinstance(email, str):
            ctx.update_event("traits.email", hashlib.sha256(email.lower().encode()).hexdigest())
        return ctx


class AuditLog:
    """destination: a second destination next to Segment; it runs concurrently, errors are only logged."""

    name = "Audit log"
    type: Final = "destination"
    version = "1.0.0"

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._ready = False

    def is_loaded(self) -> bool:
        return self._ready

    async def load(self, ctx: Context, analytics: Analytics) -> None:
        self._ready = True  # open files, connections... here

    async def unload(self, ctx: Context, analytics: Analytics) -> None:
        self._ready = False

    async def track(self, ctx: Context) -> None:
        self.lines.append(f"{ctx.event['userId']} did {ctx.event['event']}")


class DeliveryWatch:
    """after: runs once the event has settled (delivered to Segment or failed)."""

    name = "Delivery watch"
    type: Final = "after"
    version = "1.0.0"

    def __init__(self) -> None:
        self.outcomes: list[str] = []

    def is_loaded(self) -> bool:
        return True

    def load(self, ctx: Context, analytics: Analytics) -> None:
        return None

    def track(self, ctx: Context) -> None:
        failed = ctx.failed_delivery()
        self.outcomes.append("failed" if failed else "delivered")

    identify = track


async def main() -> dict[str, object]:
    """Run the tour and return what each plugin saw, and what arrived."""
    audit, watch = AuditLog(), DeliveryWatch()
    loaded: list[str] = []
    # utility: loaded once, never called for events; a place for setup that other plugins use.
    utility = SimplePlugin(name="Warm caches", type="utility", on_load=lambda: loaded.append("caches"))

    def lower(ctx: Context) -> None:
        ctx.update_event("event", ctx.event["event"].lower())

    lowercase = SimplePlugin(name="Lowercase events", type="enrichment", track=lower)
    async with SegmentSink() as sink:
        async with Analytics(write_key="demo", host=sink.url) as analytics:
            await analytics.register(utility, DropBots(), HashEmails(), lowercase, audit, watch)
            await analytics.identify(user_id="u1", traits={"email": "Ada@Example.com"})
            await analytics.track(event="Item Purchased", user_id="u1")
            await analytics.track(event="Item Purchased", user_id="bot-7")
            await analytics.track(event="Internal Ping", user_id="u1", integrations={"Audit log": False})
        return {
            "arrived": [(e["type"], e.get("event"), e.get("traits")) for e in sink.events],
            "audit": audit.lines,
            "after": watch.outcomes,
            "utility": loaded,
        }


if __name__ == "__main__":
    for key, value in asyncio.run(main()).items():
        print(f"{key}: {value}")
