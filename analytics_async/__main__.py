"""Command line: `python -m analytics_async demo` (also installed as `analytics-async`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._version import __version__

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen command; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="analytics-async", description="The asyncio-native client for Segment's Tracking API."
    )
    parser.add_argument("--version", action="version", version=f"analytics-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)  # argparse rejects unknown ones
    demo = commands.add_parser(
        "demo",
        help="send events of all six types to a local Segment-compatible server and show what arrived",
    )
    demo.add_argument("--users", type=int, default=40, help="users to simulate; 8 calls each (default: 40)")
    args = parser.parse_args(argv)
    from ._demo import main as demo_main  # noqa: PLC0415 - only this command needs the server

    return demo_main(args.users)


if __name__ == "__main__":
    sys.exit(main())
