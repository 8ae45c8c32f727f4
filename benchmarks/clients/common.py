"""What every Python contender shares: the event, and measuring time, CPU and peak memory."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any

USER_ID = "019mr8mf4r"
EVENT = "Item Purchased"
PROPERTIES: dict[str, Any] = {
    "revenue": 39.95, "currency": "EUR", "shipping": "2-day", "coupon": "WINTER-2026",
    "items": [{"sku": "A-1001", "name": "Wool hat", "qty": 2, "price": 14.5},
              {"sku": "B-2002", "name": "Scarf", "qty": 1, "price": 10.95}],
}  # fmt: skip
"""With the fields every library adds, one track event is about 480 bytes of JSON."""
WORKLOAD = os.environ.get("BENCH_WORKLOAD", "fair")
"""`fair` (the default): each call builds its own properties, as an app does; `same`: every call
passes the one `PROPERTIES` dict (the kinder workload of earlier reports)."""


def properties(i: int) -> dict[str, Any]:
    """Call `i`'s properties: 9 keys (int, str, float, bool, None, 3 strings, a nested dict of 4), fresh."""
    if WORKLOAD == "same":
        return PROPERTIES
    return {
        "quantity": i % 7 + 1, "sku": f"SKU-{i}", "price": 1.5 + (i % 1000) * 0.01, "gift": i % 2 == 0,
        "coupon": None, "tags": ["winter", f"t{i % 10}", "sale"], "currency": "EUR", "category": "hats",
        "shipping": {"method": "2-day", "cost": 4.95, "express": i % 3 == 0, "zone": i % 8},
    }  # fmt: skip


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, since ru_maxrss carries the parent's peak across fork+exec
    (Linux keeps the larger of the two at exec: a 90 MB benchmark driver made every child "90 MB")."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def args() -> tuple[int, str]:
    """The number of events and the sink URL from the command line."""
    return int(sys.argv[1]), sys.argv[2]


class Meter:
    """Wall time in the calls and until everything was delivered; CPU and peak RSS of the process."""

    def __init__(self) -> None:
        self.cpu0 = self._cpu()
        self.t0 = time.perf_counter()
        self.calls_s = 0.0

    @staticmethod
    def _cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def calls_done(self) -> None:
        self.calls_s = time.perf_counter() - self.t0

    def report(self, **extra: Any) -> None:
        total = time.perf_counter() - self.t0
        peak_mb = peak_rss_mb()
        print(json.dumps({"calls_s": self.calls_s, "total_s": total, "cpu_s": self._cpu() - self.cpu0,
                          "peak_rss_mb": peak_mb, **extra}))  # fmt: skip
