"""Run by tests/test_sync_processes.py: a sync script using the drop-in API against the sink at argv[1].

`exit`: queue three events and exit without flushing (the exit hook must send them).
`fork`: queue three events, fork; the child sends one of its own, the parent then flushes its three.
"""

from __future__ import annotations

import os
import sys

import analytics_async.sync as analytics


def main() -> None:
    """Run the scenario named in argv[2]."""
    analytics.write_key = "wk"
    analytics.host = sys.argv[1]
    for i in range(3):
        analytics.track("user", f"parent{i}")
    if sys.argv[2] == "fork":
        pid = os.fork()
        if pid == 0:
            analytics.track("user", "child")
            analytics.shutdown()
            os._exit(0)
        os.waitpid(pid, 0)
        analytics.flush()
    # `exit`: nothing more; the interpreter's exit runs the hook that sends what is queued


if __name__ == "__main__":
    main()
