"""segment-analytics-python (the official SDK): batches of 100, a queue large enough not to drop."""

from __future__ import annotations

from segment.analytics import Client

from benchmarks.clients.common import EVENT, USER_ID, Meter, args, properties


def main() -> None:
    events, url = args()
    meter = Meter()
    client = Client("bench", host=url, upload_size=100, max_queue_size=events + 1)
    for i in range(events):
        client.track(user_id=USER_ID, event=EVENT, properties=properties(i))
    meter.calls_done()
    client.flush()
    client.join()
    meter.report()


if __name__ == "__main__":
    main()
