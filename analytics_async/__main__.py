"""Command line: `python -m analytics_async` (also installed as `analytics-async`).

Commands: `demo` (events through the library to an in-process server), `sink` (a local
Segment-compatible server printing what arrives, with fault injection) and `send` (one event).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from ._version import __version__

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analytics-async",
        description="The asyncio-native client for Segment's Tracking API: demo, local sink, send one event.",
    )
    parser.add_argument("--version", action="version", version=f"analytics-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="send events of all six types to an in-process server and show what arrived"
    )
    demo.add_argument("--users", type=int, default=40, help="users to simulate; 8 calls each (default: 40)")

    sink = commands.add_parser(
        "sink",
        help="run a local Segment-compatible server that prints events and can inject faults",
        description="A local /v1/batch server: validates like the Tracking API, prints each event, and can "
        "answer with errors, 429s or latency so you can try an app against a misbehaving API. "
        "Stops on Ctrl-C or SIGTERM and prints a summary.",
    )
    sink.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback only)")
    sink.add_argument("--port", type=int, default=8080, help="port (default: 8080; 0 picks a free one)")
    sink.add_argument("--path", default="/v1/batch", help="batch path (default: /v1/batch)")
    sink.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests answered --error-status"
    )
    sink.add_argument(
        "--error-status", type=int, default=503, help="status for injected errors (default: 503)"
    )
    sink.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of requests answered 429")
    sink.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of injected 429s (seconds)")
    sink.add_argument("--latency", type=float, default=0.0, help="seconds to wait before every answer")
    sink.add_argument("--seed", type=int, default=None, help="random seed, for repeatable faults")
    sink.add_argument("--quiet", action="store_true", help="print only the summary")
    sink.add_argument("--duration", type=float, default=None, help="stop after this many seconds")

    send = commands.add_parser(
        "send",
        help="send one event of any type",
        description="Send one event and report whether it was delivered (exit 0), failed (1) or invalid (2).",
    )
    send.add_argument("type", choices=["track", "identify", "page", "screen", "group", "alias"])
    send.add_argument("--write-key", default=None, help="write key (default: $SEGMENT_WRITE_KEY)")
    send.add_argument(
        "--host", default="https://api.segment.io", help="base URL (EU: https://events.eu1.segmentapis.com)"
    )
    send.add_argument("--user-id")
    send.add_argument("--anonymous-id")
    send.add_argument("--event", help="track: the event name")
    send.add_argument("--properties", help="track/page/screen: a JSON object")
    send.add_argument("--traits", help="identify/group: a JSON object")
    send.add_argument("--name", help="page/screen: the name")
    send.add_argument("--category", help="page/screen: the category")
    send.add_argument("--group-id", help="group: the group id")
    send.add_argument("--previous-id", help="alias: the previous id")
    send.add_argument("--context", help="a JSON object")
    send.add_argument("--integrations", help="a JSON object")
    send.add_argument("--timestamp", help="ISO 8601 timestamp (sent as given)")
    send.add_argument("--message-id", help="message id (default: a new uuid)")
    send.add_argument("--gzip", action="store_true", help="gzip the request body")
    send.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for delivery (default: 30)"
    )
    send.add_argument("--max-retries", type=int, default=3, help="retries on failure (default: 3)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen command; return the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import main as demo_main  # noqa: PLC0415 - each command imports what it needs

        return demo_main(args.users)
    from . import _cli  # noqa: PLC0415
    from ._sink import Faults  # noqa: PLC0415

    if args.command == "sink":
        faults = Faults(
            error_rate=args.error_rate,
            error_status=args.error_status,
            rate_limit_rate=args.rate_limit_rate,
            retry_after=args.retry_after,
            latency=args.latency,
            seed=args.seed,
        )
        return asyncio.run(
            _cli.run_sink(
                host=args.host,
                port=args.port,
                path=args.path,
                faults=faults,
                quiet=args.quiet,
                duration=args.duration,
            )
        )
    return asyncio.run(_cli.run_send(args))


if __name__ == "__main__":
    sys.exit(main())
