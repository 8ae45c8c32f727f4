"""Command line: `python -m analytics_async` (also installed as `analytics-async`).

Commands: `demo` (events through the library to an in-process server), `sink` (a local
Segment-compatible server printing what arrives, with fault injection), `send` (one event),
`e2e-cli` (the CLI of Segment's cross-SDK end-to-end harness) and `plan` (tracking plans: pull,
codegen, check).

Exit codes: 0 success; 1 the command ran and failed (an event not delivered, a port in use);
2 invalid input (arguments, JSON, settings), with one line saying what is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ._cli.commands import UsageError
from ._cli.sink import DEFAULT_KEEP
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
    demo.add_argument(
        "--users", type=_positive, default=40, help="users to simulate; 8 calls each (default: 40)"
    )
    demo.add_argument(
        "--ui",
        action="store_true",
        help="show the events in the sink's Source Debugger page and keep it open (Ctrl-C to stop)",
    )
    demo.add_argument("--port", type=_port, default=0, help="port of the --ui page (default: a free one)")

    sink = commands.add_parser(
        "sink",
        help="run a local Segment-compatible server that prints events and can inject faults",
        description="A local /v1/batch server: validates like the Tracking API, prints each event, and can "
        "answer with errors, 429s or latency so you can try an app against a misbehaving API. "
        "Stops on Ctrl-C or SIGTERM and prints a summary.",
    )
    sink.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sink.add_argument("--port", type=_port, default=8080, help="port (default: 8080; 0 picks a free one)")
    sink.add_argument("--path", default="/v1/batch", help="batch path (default: /v1/batch)")
    sink.add_argument(
        "--error-rate", type=_share, default=0.0, help="share of requests answered --error-status (0 to 1)"
    )
    sink.add_argument(
        "--error-status", type=_status, default=503, help="status for injected errors (default: 503)"
    )
    sink.add_argument("--rate-limit-rate", type=_share, default=0.0, help="share of requests answered 429")
    sink.add_argument(
        "--retry-after",
        type=_seconds,
        default=1.0,
        help="Retry-After of injected 429s (seconds)",
    )
    sink.add_argument("--latency", type=_seconds, default=0.0, help="seconds to wait before every answer")
    sink.add_argument("--seed", type=int, default=None, help="random seed, for repeatable faults")
    sink.add_argument("--cert", default=None, help="serve HTTPS with this PEM certificate (chain) file")
    sink.add_argument("--key", default=None, help="the PEM private key of --cert (default: in --cert's file)")
    sink.add_argument("--quiet", action="store_true", help="print only the summary")
    sink.add_argument(
        "--record", default=None, help="append every accepted event to this file, one JSON object per line"
    )
    sink.add_argument("--duration", type=_seconds, default=None, help="stop after this many seconds")
    sink.add_argument(
        "--ui", action="store_true", help="serve the Source Debugger page at / (live events, batches, faults)"
    )
    sink.add_argument(
        "--keep",
        type=_positive,
        default=DEFAULT_KEEP,
        help=f"events the --ui page and the server keep (default: {DEFAULT_KEEP})",
    )
    sink.add_argument(
        "--plan", default=None, help="highlight events that break this tracking plan (with --ui)"
    )
    sink.add_argument(
        "--reset-rate", type=_share, default=0.0, help="share of requests whose connection is reset"
    )
    sink.add_argument("--hang-rate", type=_share, default=0.0, help="share of requests never answered")

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
        "--timeout",
        type=_seconds,
        default=30.0,
        help="seconds to wait for delivery (default: 30)",
    )
    send.add_argument("--max-retries", type=_count, default=3, help="retries on failure (default: 3)")

    e2e = commands.add_parser(
        "e2e-cli",
        help="run a scenario of Segment's cross-SDK end-to-end harness",
        description="Send every event of --input through the library, flush, and print "
        '{"success": ..., "sentBatches": N, "error": ...} as the last line (exit code 0).',
    )
    e2e.add_argument("--input", required=True, help="the scenario, a JSON object (see docs/cli.md)")
    _plan_parser(commands)
    return parser


def _plan_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers action
    plan = commands.add_parser(
        "plan",
        help="tracking plans: pull one from the Public API, generate a typed module, check recorded events",
        description="Segment Protocols tracking plans (needs the plans extra). See docs/plans.md.",
    )
    plans = plan.add_subparsers(dest="plan_command", required=True, metavar="PLAN_COMMAND")
    pull = plans.add_parser(
        "pull",
        help="fetch a plan's rules through the Public API into a file",
        description="Fetch every rule of a tracking plan (token in $SEGMENT_PUBLIC_API_TOKEN) into a file.",
    )
    pull.add_argument("--id", required=True, help="the plan's Public API id (tp_...)")
    pull.add_argument("-o", "--output", default="plan.json", help="file to write (default: plan.json)")
    pull.add_argument(
        "--api-url",
        default="https://api.segmentapis.com",
        help="the Public API (EU: https://eu1.api.segmentapis.com)",
    )
    pull.add_argument("--timeout", type=_seconds, default=30.0, help="seconds per request (default: 30)")
    codegen = plans.add_parser(
        "codegen",
        help="generate a typed module with a function per planned event",
        description="Write a module with one typed, keyword-only function per planned event, async and sync.",
    )
    codegen.add_argument("plan", help="the plan file (JSON, or YAML with PyYAML)")
    codegen.add_argument("-o", "--output", default=None, help="the module to write (default: stdout)")
    codegen.add_argument(
        "--check", action="store_true", help="exit 1 if -o FILE is not what the plan generates (for CI)"
    )
    check = plans.add_parser(
        "check",
        help="check a file of recorded events against a plan (exit 1 on violations)",
        description="Validate one event per line (as `sink --record` writes them); a table of violations.",
    )
    check.add_argument("--plan", required=True, help="the plan file")
    check.add_argument("events", help="a file of events, one JSON object per line")
    check.add_argument(
        "--allow-unplanned", action="store_true", help="do not count track events without a rule"
    )


def _at_least(minimum: float, kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, not {text}")
        return value

    return parse


def _bounded(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be from {low} to {high}, not {value}")
        return value

    return parse


_port = _bounded(0, 65535, "a port")
_seconds = _at_least(0.0, float)
_count = _at_least(0, int)
_positive = _at_least(1, int)
_status = _bounded(100, 599, "an HTTP status")


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, not {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen command; return the exit code (see the module doc)."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except UsageError as exc:
        sys.stderr.write(f"analytics-async: error: {exc}\n")
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "e2e-cli":
        from ._cli.e2e import run_e2e  # noqa: PLC0415

        return asyncio.run(run_e2e(args.input))
    if args.command == "plan":
        from ._cli.plan import run  # noqa: PLC0415

        return run(args)
    if args.command == "demo":
        from ._cli.demo import main as demo_main  # noqa: PLC0415 - each command imports what it needs

        return demo_main(args.users, ui=args.ui, port=args.port)
    from ._cli import commands  # noqa: PLC0415
    from ._cli.sink import Faults  # noqa: PLC0415

    if args.command == "sink":
        faults = Faults(
            error_rate=args.error_rate,
            error_status=args.error_status,
            rate_limit_rate=args.rate_limit_rate,
            retry_after=args.retry_after,
            latency=args.latency,
            seed=args.seed,
            reset_rate=args.reset_rate,
            hang_rate=args.hang_rate,
        )
        if args.key is not None and args.cert is None:
            raise UsageError("--key needs --cert")
        if args.plan is not None and not args.ui:
            raise UsageError("--plan needs --ui (the page shows the violations)")
        plan = None
        if args.plan is not None:
            from ._cli.plan import _load  # noqa: PLC0415

            plan = _load(args.plan)
        return asyncio.run(
            commands.run_sink(
                host=args.host,
                port=args.port,
                path=args.path,
                faults=faults,
                quiet=args.quiet,
                duration=args.duration,
                cert=args.cert,
                key=args.key,
                record=args.record,
                ui=args.ui,
                keep=args.keep,
                plan=plan,
            )
        )
    return asyncio.run(commands.run_send(args))


if __name__ == "__main__":
    sys.exit(main())
