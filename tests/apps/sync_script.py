"""Run by tests/test_sync_processes.py: a sync script using the drop-in API against the sink at argv[1].

`exit`: queue three events and exit without flushing (the exit hook must send them).
`fork`: queue three events, fork; the child sends one of its own, the parent then flushes its three.
`spool`: with the spool file argv[3], queue three events and shut down within 0.3 s (the server hangs).
`next`: with the spool file argv[3], send one event of its own and shut down.
`burst`: 8 threads x 5,000 calls at the defaults (four times the queue), then exit without flushing.
"""

from __future__ import annotations

import os
import sys
import threading

import analytics_async.sync as analytics


def main() -> None:
    """Run the scenario named in argv[2]."""
    analytics.write_key = "wk"
    analytics.host = sys.argv[1]
    if sys.argv[2] in ("spool", "next"):
        analytics.spool = sys.argv[3]
    if sys.argv[2] == "burst":
        refused: list[int] = []

        def calls(t: int) -> None:
            refused.extend(i for i in range(5_000) if not analytics.track(f"user-{t}", "burst", {"i": i})[0])

        threads = [threading.Thread(target=calls, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sys.stderr.write(f"refused {len(refused)}\n")
        return
    if sys.argv[2] == "next":
        analytics.track("user", "next")
        analytics.shutdown()
        return
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
    if sys.argv[2] == "spool":
        analytics.shutdown(timeout=0.3)  # ours: the official SDK's shutdown() takes no timeout
    # `exit`: nothing more; the interpreter's exit runs the hook that sends what is queued


if __name__ == "__main__":
    main()
