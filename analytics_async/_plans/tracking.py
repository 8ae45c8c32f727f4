"""`TrackingPlan`: a plan's rules, compiled, and which of them an event answers to."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from .check import PlanViolation, RuleCheck, event_name
from .plan import Rule, parse_plan, read_plan_file

if TYPE_CHECKING:
    from .plugin import OnUnplanned, OnViolation, PlanPlugin

__all__ = ["TrackingPlan"]

RULE_OF_TYPE: Final = {"track": "TRACK", "identify": "IDENTIFY", "group": "GROUP", "page": "PAGE",
                       "screen": "SCREEN"}  # fmt: skip


class TrackingPlan:
    """A tracking plan: a JSON Schema rule per event, compiled once, to check events against.

    ```python
    plan = TrackingPlan.load("plan.json")
    await analytics.register(plan.plugin(on_violation="warn"))
    ```

    An event answers to the newest version of its rule (TRACK rules by event name, IDENTIFY and
    GROUP by type, PAGE and SCREEN by name, else the type's unkeyed rule) unless it names one in
    `context.protocols.event_version`, as Segment documents; every event also answers to the
    COMMON rule. A track event with no rule is *unplanned*.

    Raises (on construction):
        ConfigError: a rule is invalid (unknown type, invalid schema, duplicate): the message names it.
    """

    def __init__(self, rules: Sequence[Rule], name: str = "tracking plan") -> None:
        self.name = name
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._checks: dict[tuple[str, str], dict[int, RuleCheck]] = {}
        for rule in self.rules:
            self._checks.setdefault((rule.type, rule.key), {})[rule.version] = RuleCheck(rule)
        self._newest = {identity: versions[max(versions)] for identity, versions in self._checks.items()}
        common = self._newest.get(("COMMON", ""))
        self._common = None if common is None or common.trivial else common
        # The hot path's tables: message type -> key -> (newest check, every version).
        self._by_type: dict[str, dict[str, tuple[RuleCheck, dict[int, RuleCheck]]]] = {}
        for (kind, key), versions in self._checks.items():
            if kind != "COMMON":
                table = self._by_type.setdefault(kind.lower(), {})
                table[key] = (versions[max(versions)], versions)
        self._track = self._by_type.pop("track", {})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrackingPlan:
        """Read a plan file: JSON, or YAML (`.yaml`/`.yml`) when PyYAML is installed.

        Raises:
            ConfigError: the file cannot be read or is not a valid plan (naming the rule).
        """
        default_name, data = read_plan_file(path)
        return cls.from_data(data, default_name)

    @classmethod
    def from_data(cls, data: object, name: str = "tracking plan") -> TrackingPlan:
        """A plan from its parsed JSON, in either published shape (see `_plans.plan`).

        Raises:
            ConfigError: not a valid plan (naming the rule).
        """
        found_name, rules = parse_plan(data, name)
        return cls(rules, found_name)

    def __repr__(self) -> str:
        return f"TrackingPlan({self.name!r}, {len(self.rules)} rules)"

    def newest(self) -> list[Rule]:
        """The newest version of every rule, in the plan's order."""
        newest = {id(check.rule) for check in self._newest.values()}
        return [rule for rule in self.rules if id(rule) in newest]

    def plugin(
        self, *, on_violation: OnViolation = "warn", on_unplanned: OnUnplanned = "allow"
    ) -> PlanPlugin:
        """A `before` plugin checking every call against this plan (see `PlanPlugin`).

        Raises:
            ConfigError: `on_violation` or `on_unplanned` is not one of its values.
        """
        from .plugin import PlanPlugin  # noqa: PLC0415 - the plugin module imports this one

        return PlanPlugin(self, on_violation=on_violation, on_unplanned=on_unplanned)

    def check(self, message: Mapping[str, Any]) -> list[PlanViolation]:
        """Every way `message` breaks the plan: its rule, the COMMON rule, or being unplanned. [] if none."""
        return [v for v in (self.check_event(message), self.check_common(message)) if v is not None]

    def check_common(self, message: Mapping[str, Any]) -> PlanViolation | None:
        """How `message` breaks the COMMON rule; None if it does not (or the plan has none)."""
        return None if self._common is None else self._common.check(message)

    def check_event(self, message: Mapping[str, Any]) -> PlanViolation | None:
        """How `message` breaks the rule of its event (or has none), COMMON aside; None if it does not."""
        kind = message.get("type")
        if kind == "track":
            entry = self._track.get(message.get("event"))  # type: ignore[arg-type]
            if entry is None:
                name = event_name(message)
                return PlanViolation(name, "track", None, "event", "no TRACK rule plans it", message)
        else:
            table = self._by_type.get(kind)  # type: ignore[arg-type]
            if table is None:  # alias, or a type the plan has no rule for
                return None
            entry = table.get(message.get("name") or "") if kind in ("page", "screen") else None
            if entry is None and (entry := table.get("")) is None:
                return None
        check, versions = entry
        context = message.get("context")
        if context.__class__ is not dict or "protocols" in context:
            found = self._version(message, versions)
            if isinstance(found, PlanViolation):
                return found
            check = found
        return check.check(message)

    @staticmethod
    def _version(message: Mapping[str, Any], versions: dict[int, RuleCheck]) -> RuleCheck | PlanViolation:
        context = message.get("context")
        protocols = context.get("protocols") if isinstance(context, Mapping) else None
        wanted = protocols.get("event_version") if isinstance(protocols, Mapping) else None
        if wanted is None:
            return versions[max(versions)]
        if isinstance(wanted, str) and wanted.isdigit():
            wanted = int(wanted)
        if isinstance(wanted, int) and wanted in versions:
            return versions[wanted]
        newest = versions[max(versions)].rule
        have = ", ".join(str(v) for v in sorted(versions))
        reason = f"version {wanted!r} is not in the plan (it has {have})"
        path = "context.protocols.event_version"
        return PlanViolation(
            event_name(message), str(message.get("type", "")), newest.label, path, reason, message
        )
