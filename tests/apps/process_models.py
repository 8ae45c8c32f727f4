"""Run by tests/test_process_models.py: child processes send through the drop-in API, then leave.

The sink's URL is in SINK_URL (read at import, as spawned children import this module anew). The
parent sends nothing itself; each of the 40 tasks sends one event `e<i>` from a child process.

`pool`: multiprocessing.Pool(2, maxtasksperchild=5) with fork: every 5 tasks a child leaves.
`executor`: ProcessPoolExecutor(2) with fork; children leave at shutdown.
`executor-spawn`: ProcessPoolExecutor(2) with spawn: children import this module anew, leave at shutdown.
(`max_tasks_per_child` is not tried: CPython 3.11-3.13.0 executors deadlock with it, library or not.)
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import analytics_async.sync as analytics

analytics.write_key = "wk"
analytics.host = os.environ["SINK_URL"]
TASKS = 40


def task(i: int) -> int:
    """Send one event from the child process."""
    analytics.track("user", f"e{i}", {"pid": os.getpid()})
    return os.getpid()


def main() -> None:
    """Run the scenario named in argv[1]."""
    scenario = sys.argv[1]
    if scenario == "pool":
        with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=5) as pool:
            pids = pool.map(task, range(TASKS), chunksize=1)
            pool.close()
            pool.join()
    elif scenario == "executor":
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as executor:
            pids = list(executor.map(task, range(TASKS)))
    elif scenario == "executor-spawn":
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
            pids = list(executor.map(task, range(TASKS)))
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    assert pids, "no task ran"


if __name__ == "__main__":
    main()
