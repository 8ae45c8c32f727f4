"""Run by tests/test_process_models.py: a Celery app on the filesystem broker, sending with the drop-in.

The broker's folder is CELERY_DATA and the sink's URL SINK_URL. `python celery_app.py publish N`
queues N tasks `send(i)`, each of which sends one event `e<i>` from whichever worker process runs it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from celery import Celery

import analytics_async.sync as analytics

analytics.write_key = "wk"
analytics.host = os.environ["SINK_URL"]

DATA = Path(os.environ["CELERY_DATA"])
for folder in ("queue", "processed", "control"):
    (DATA / folder).mkdir(parents=True, exist_ok=True)
app = Celery("celery_app", broker="filesystem://")
app.conf.update(
    broker_transport_options={
        "data_folder_in": str(DATA / "queue"), "data_folder_out": str(DATA / "queue"),
        "processed_folder": str(DATA / "processed"), "control_folder": str(DATA / "control"),
        "polling_interval": 0.1,
    },
    task_ignore_result=True, worker_hijack_root_logger=False,
)  # fmt: skip


@app.task  # type: ignore[untyped-decorator] # celery ships no type information
def send(i: int) -> None:
    """Send one event from the worker process that runs the task."""
    analytics.track("user", f"e{i}", {"pid": os.getpid()})


if __name__ == "__main__" and sys.argv[1] == "publish":
    for i in range(int(sys.argv[2])):
        send.delay(i)
