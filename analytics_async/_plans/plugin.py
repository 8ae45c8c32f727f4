"""`PlanPlugin`: checks every call against a tracking plan, at the call, and says what to do.

A `before` plugin with no event hooks: the client calls `check_call(message)` while it builds the
event (in the calling thread for the sync drop-in), so a plan costs one compiled check per call and
none of the plugin stage, and `"raise"` can raise at the call. It checks the event as the caller
made it, before any other plugin changes it. Thread- and fork-safe: it keeps no state but its
rate-limited warnings, and takes no lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final, Literal

import attrs

from .._version import __version__
from ..errors import ConfigError, PlanViolationError
from .check import PlanViolation
from .tracking import TrackingPlan

__all__ = ["WARN_EVERY", "OnUnplanned", "OnViolation", "PlanPlugin", "Verdict"]

logger = logging.getLogger("analytics_async")

OnViolation = Literal["warn", "drop", "raise"]
OnUnplanned = Literal["allow", "warn", "drop", "raise"]
WARN_EVERY: Final = 60.0
"""A violation is logged once per event name and path in this many seconds (with how many since)."""
WARNED_KEYS: Final = 1024
"""At most this many (event name, path) pairs are remembered for the rate limit."""


@attrs.frozen
class Verdict:
    """What to do with an event that breaks the plan: `action`, and the `violation` it commits."""

    action: OnViolation
    violation: PlanViolation

    def error(self) -> PlanViolationError:
        """The error the call raises ("raise") or the event fails with ("drop")."""
        return PlanViolationError(self.violation)


class PlanPlugin:
    """Checks each call against a `TrackingPlan` (`plan.plugin(...)` makes one).

    `on_violation` (an event that breaks its rule or the COMMON rule): `"warn"` logs one WARNING
    per event name and path a minute, counts it (`stats().violations`) and emits a `violation`
    event (a `PlanViolation`), and the event is sent; `"drop"` does the same but fails the event
    with `PlanViolationError` (callback, `error` event), so it is not sent; `"raise"` makes the call
    raise `PlanViolationError` (a `ValidationError`): nothing is accepted. `on_unplanned` (a track
    event the plan has no rule for) takes the same values, and `"allow"` (the default).
    """

    type: Final = "before"
    version: Final = __version__

    def __init__(
        self,
        plan: TrackingPlan,
        *,
        on_violation: OnViolation = "warn",
        on_unplanned: OnUnplanned = "allow",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if on_violation not in ("warn", "drop", "raise"):
            raise ConfigError("on_violation", f"must be 'warn', 'drop' or 'raise', not {on_violation!r}")
        if on_unplanned not in ("allow", "warn", "drop", "raise"):
            raise ConfigError(
                "on_unplanned", f"must be 'allow', 'warn', 'drop' or 'raise', not {on_unplanned!r}"
            )
        self.plan = plan
        self.name = f"Tracking Plan ({plan.name})"
        self.on_violation: OnViolation = on_violation
        self.on_unplanned: OnUnplanned = on_unplanned
        self._clock = clock
        self._warned: dict[tuple[str, str], tuple[float, int]] = {}  # (event, path) -> (last log, since)

    def __repr__(self) -> str:
        modes = f"on_violation={self.on_violation!r}, on_unplanned={self.on_unplanned!r}"
        return f"PlanPlugin({self.plan!r}, {modes})"

    def is_loaded(self) -> bool:
        """Always ready: the plan was compiled when it was loaded."""
        return True

    def load(self, ctx: object, analytics: object) -> None:
        """Nothing to load."""

    def check_call(self, message: dict[str, Any]) -> Verdict | None:
        """None if the event conforms (or is unplanned and allowed), else what to do with it."""
        violation = self.plan.check_event(message)
        if violation is not None:
            if violation.rule is not None:
                return self._verdict(self.on_violation, violation)
            if self.on_unplanned != "allow":
                return self._verdict(self.on_unplanned, violation)
        violation = self.plan.check_common(message)
        return None if violation is None else self._verdict(self.on_violation, violation)

    def _verdict(self, action: OnViolation, violation: PlanViolation) -> Verdict:
        if action == "warn":
            self._warn(violation)
        return Verdict(action, violation)

    def _warn(self, violation: PlanViolation) -> None:
        # No lock: a lock held by another thread at a fork would hang the child's first warning.
        # Two threads racing here may log the same line twice or lose a count, never more.
        key = (violation.event, violation.path)
        now = self._clock()
        warned = self._warned
        last, since = warned.get(key, (None, 0))
        if last is not None and now - last < WARN_EVERY:
            warned[key] = (last, since + 1)
            return
        if len(warned) >= WARNED_KEYS:  # event names made up at run time must not grow it for ever
            warned.clear()
        warned[key] = (now, 0)
        more = f" ({since} more since the last warning)" if since else ""
        logger.warning("analytics_async: %s%s", violation.describe(), more)
