"""User code passes mypy --strict without casts (this file is type-checked in CI), and runs."""

from __future__ import annotations

from analytics_async import Analytics, Context, ErrorEvent, FlushEvent, HTTPRequestEvent
from analytics_async.frameworks import lambda_handler
from analytics_async.testing import RecordingClient


def on_delivered(ctx: Context) -> None:
    """A handler typed with the payload of `track`."""


async def on_error(event: ErrorEvent) -> None:
    """An async handler typed with the payload of `error`."""


def on_flush(event: FlushEvent) -> int:
    """A handler returning something (ignored)."""
    return event.batch_size


def callback(err: Exception | None, ctx: Context) -> None:
    """A callback typed the way users write it."""


def callback_base(err: BaseException | None, ctx: Context) -> None:
    """A callback typed with BaseException, as the contract says."""


async def test_typed_user_code_runs() -> None:
    """Handlers and callbacks typed per event are accepted by the type checker and called at run time."""
    seen: list[str] = []
    analytics = Analytics(write_key="k", http_client=RecordingClient())
    analytics.on("track", on_delivered).on("error", on_error).on("flush", on_flush)
    analytics.on("http_request", lambda r: seen.append(r.method)).once(
        "drained", lambda _: seen.append("drained")
    )
    analytics.on("register", seen.extend)
    ctx = await analytics.track(event="E", user_id="u", callback=callback)
    await analytics.identify(user_id="u", callback=callback_base)
    request: list[HTTPRequestEvent] = []
    analytics.on("http_request", request.append)
    await analytics.flush(close=True)
    assert await ctx.delivered() is True
    assert seen == ["POST", "drained"]


def test_lambda_handler_keeps_the_handlers_types() -> None:
    """A decorated async handler keeps its event type and returns its result as a plain value."""
    recorder = RecordingClient()
    instance = Analytics(write_key="k", http_client=recorder)

    @lambda_handler(instance)
    async def handle(event: dict[str, int], context: object) -> str:
        await instance.track(event="Invoked", user_id="u")
        return f"n={event['n']}"

    result: str = handle({"n": 1}, None)
    assert result == "n=1"
    assert [e["event"] for e in recorder.events] == ["Invoked"]
