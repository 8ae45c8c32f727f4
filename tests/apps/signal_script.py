"""Run by tests/test_process_models.py: 150 events queued, then the process waits for a signal.

argv: the sink's URL, then the scenario. `flush`: `flush_on_signals()` installed. `previous`: a handler
of the app's own (exit code 3) installed first, then `flush_on_signals()`. `restored`: installed, then
put back. `none`: nothing installed. The batch interval is 60 s, so only a flush sends the events.
`threads`: installed, and the events flushed before ready, through `localhost` (so the library's
loop thread has started the executor thread of its DNS look-ups too).
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import time
from types import FrameType

from analytics_async.sync import Client, flush_on_signals


def app_handler(signum: int, frame: FrameType | None) -> None:
    """The app's own SIGTERM handler: leave with exit code 3."""
    sys.stdout.write("the app's handler ran\n")
    sys.exit(3)


def main() -> None:
    """Queue the events, install what the scenario says, say ready, wait."""
    faulthandler.register(signal.SIGUSR2, all_threads=True)  # the test's way to see a hang's stacks
    scenario = sys.argv[2]
    if scenario == "previous":
        signal.signal(signal.SIGTERM, app_handler)
    if scenario in ("flush", "previous", "restored", "threads"):
        restore = flush_on_signals(timeout=5)
        if scenario == "restored":
            restore()
    host = sys.argv[1].replace("127.0.0.1", "localhost") if scenario == "threads" else sys.argv[1]
    client = Client("wk", host=host, upload_size=1000, upload_interval=60)
    for i in range(150):
        client.track("user", f"e{i}")
    if scenario == "threads":
        client.flush()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    time.sleep(60)


if __name__ == "__main__":
    main()
