"""One rule, compiled: does a message conform, and if not, where it breaks (`PlanViolation`).

Validation runs in `jsonschema_rs` (compiled once per rule; measured against `fastjsonschema` in
benchmarks/plans.py: 1.2 vs 4.6 us for a message of ten properties, and 2.3 vs 16 us for ten
properties with an array of objects). Most of a
check's cost is handing the instance to Rust, so a rule that only constrains parts of the message
(`properties`, `traits`, `context`: what Segment's rules do) is checked against those parts alone,
with the whole schema (so `$ref`s still resolve). A value the validator cannot take (a datetime,
a str subclass) sends the check to the message's JSON: what goes on the wire is what is checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import jsonschema_rs

from .._core.events import PlanViolation
from .._message.build import serialize
from ..errors import ConfigError
from .plan import Rule

__all__ = ["PlanViolation", "RuleCheck"]

_ONLY_OVER_KEYS: Final = frozenset({
    "$schema", "$id", "$comment", "title", "description", "labels", "type", "properties", "required",
    "definitions", "$defs", "examples", "default",
})  # fmt: skip
"""Top-level keywords that look at the message's keys one by one: a schema made of only these can be
checked against the parts it names (any other keyword, say `additionalProperties`, sees them all)."""
REASON_CHARS: Final = 200


def event_name(message: Mapping[str, Any]) -> str:
    """What violations call the event: its name for a track call, else its type."""
    kind = str(message.get("type", ""))
    return str(message.get("event", "")) if kind == "track" else kind


class RuleCheck:
    """A rule compiled once; `check(message)` says whether and where a message breaks it."""

    __slots__ = ("_parts", "_validator", "rule", "trivial")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        schema = dict(rule.json_schema)
        try:
            if "$schema" in schema:
                self._validator = jsonschema_rs.validator_for(schema)
            else:  # Segment's rules are draft-07
                self._validator = jsonschema_rs.Draft7Validator(schema)
        except (jsonschema_rs.ValidationError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError("plan", f"{rule.label}: not a valid JSON Schema: {first}") from None
        self._parts: tuple[str, ...] | None = None
        if set(schema) <= _ONLY_OVER_KEYS and isinstance(schema.get("properties", {}), Mapping):
            named = schema.get("properties", {})
            required = schema.get("required", [])
            parts = [k for k, v in named.items() if v not in ({}, True)]
            parts += [k for k in required if isinstance(k, str) and k not in parts]
            self._parts = tuple(parts)
        self.trivial = self._parts == () and schema.get("type") in (None, "object")
        """The rule constrains nothing a built message could break."""

    def _instance(self, message: Mapping[str, Any]) -> Mapping[str, Any]:
        parts = self._parts
        if parts is None:
            return message
        if len(parts) == 1:
            part = parts[0]
            return {part: message[part]} if part in message else {}
        return {k: message[k] for k in parts if k in message}

    def check(self, message: Mapping[str, Any]) -> PlanViolation | None:
        """None if `message` conforms, else where it first breaks the rule."""
        if self.trivial:
            return None
        instance = self._instance(message)
        try:
            if self._validator.is_valid(instance):
                return None
        except ValueError:  # a value the validator cannot take: check what goes on the wire
            instance = self._instance(json.loads(serialize(dict(message))))
            if self._validator.is_valid(instance):
                return None
        return self._violation(message, instance)

    def _violation(self, message: Mapping[str, Any], instance: Mapping[str, Any]) -> PlanViolation:
        error = min(self._validator.iter_errors(instance), key=lambda e: [str(p) for p in e.instance_path])
        path = [str(p) for p in error.instance_path]
        kind = error.kind
        if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
            path.append(str(kind.property))
        elif isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties) and kind.unexpected:
            path.append(str(kind.unexpected[0]))
        reason = error.message if len(error.message) <= REASON_CHARS else error.message[:REASON_CHARS] + "..."
        return PlanViolation(
            event_name(message), str(message.get("type", "")), self.rule.label, ".".join(path) or "(message)",
            reason, message,
        )  # fmt: skip
