"""What a tracking plan file says: its rules, read from the shapes Segment publishes plans in.

Two shapes (and either as YAML when PyYAML is installed):

- The Public API's (`GET /tracking-plans/{id}/rules`): rules with `type` (TRACK, IDENTIFY, GROUP,
  PAGE, SCREEN, COMMON), `key` (the event name), `version` and `jsonSchema`, a draft-07 schema over
  the whole message (`properties.properties`, `properties.traits`, `properties.context`). Accepted as
  a list of rules, `{"rules": [...]}` (what `plan pull` writes, with `trackingPlan`), or the API's
  answer as it came (`{"data": {"rules": [...]}}`).
- The legacy Config API's, which Typewriter v7's `plan.json` holds: `rules.events` (`name`,
  `description`, `version`, `rules`), `rules.identify`, `rules.group` and `rules.global` (COMMON).
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal, cast

import attrs

from ..errors import ConfigError

__all__ = ["RULE_TYPES", "Rule", "RuleType", "parse_plan", "read_plan_file"]

RuleType = Literal["TRACK", "IDENTIFY", "GROUP", "PAGE", "SCREEN", "COMMON"]
RULE_TYPES: Final = ("TRACK", "IDENTIFY", "GROUP", "PAGE", "SCREEN", "COMMON")
PART_OF_TYPE: Final = {"TRACK": "properties", "PAGE": "properties", "SCREEN": "properties",
                       "IDENTIFY": "traits", "GROUP": "traits"}  # fmt: skip
"""Where a rule's event data lives in the message (COMMON rules span the whole message)."""
_LEGACY_RULES: Final[tuple[tuple[str, RuleType], ...]] = (
    ("global", "COMMON"), ("identify", "IDENTIFY"), ("group", "GROUP"),
)  # fmt: skip


@attrs.frozen
class Rule:
    """One rule of a plan: a JSON Schema over the whole message of one event (name) and version."""

    type: RuleType
    key: str
    """The event name for TRACK rules (and keyed PAGE/SCREEN rules); "" otherwise."""
    version: int
    json_schema: Mapping[str, Any] = attrs.field(repr=False)
    description: str = ""

    @property
    def label(self) -> str:
        """How messages name the rule: `TRACK 'Order Completed' v2`, `IDENTIFY v1`."""
        key = f" {self.key!r}" if self.key else ""
        return f"{self.type}{key} v{self.version}"

    def part(self) -> Mapping[str, Any]:
        """The schema of the event's own data (`properties` or `traits`); {} if the rule has none."""
        name = PART_OF_TYPE.get(self.type)
        properties = self.json_schema.get("properties")
        if name is None or not isinstance(properties, Mapping):
            return {}
        part = properties.get(name)
        return part if isinstance(part, Mapping) else {}


def read_plan_file(path: str | os.PathLike[str]) -> tuple[str, Any]:
    """The plan's name (from the file name) and its data: JSON, or YAML (.yaml/.yml) with PyYAML.

    Raises:
        ConfigError: the file cannot be read or parsed (naming the file and the line).
    """
    file = pathlib.Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("plan", f"cannot read {file}: {exc}") from None
    if file.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # noqa: PLC0415 - optional, only for YAML plans
        except ImportError:
            raise ConfigError(
                "plan", f"{file} is YAML: install PyYAML to read it (pip install pyyaml)"
            ) from None
        try:
            return file.stem, yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError("plan", f"{file} is not valid YAML: {' '.join(str(exc).split())}") from None
    try:
        return file.stem, json.loads(text)
    except ValueError as exc:
        raise ConfigError("plan", f"{file} is not valid JSON: {exc}") from None


def parse_plan(data: object, default_name: str = "tracking plan") -> tuple[str, tuple[Rule, ...]]:
    """The plan's name and rules, from either published shape (see the module doc).

    Raises:
        ConfigError: the shape is neither, or a rule is invalid (unknown type, no key, a bad
            version, duplicate): the message names the rule.
    """
    if isinstance(data, Mapping) and isinstance(data.get("data"), Mapping):
        data = data["data"]  # the Public API's answer as it came
    name = default_name
    if isinstance(data, Mapping):
        meta = data.get("trackingPlan")
        if isinstance(meta, Mapping) and isinstance(meta.get("name"), str):
            name = meta["name"]
        elif isinstance(data.get("display_name"), str):
            name = data["display_name"]
        rules = data.get("rules")
        if isinstance(rules, Mapping):
            return name, _unique(_legacy_rules(rules))
        data = rules
    if isinstance(data, Sequence) and not isinstance(data, str):
        return name, _unique(_public_rule(i, item) for i, item in enumerate(data))
    raise ConfigError(
        "plan",
        "not a tracking plan: expected the Public API's rules (a list, or an object with a 'rules' "
        "list) or a legacy plan (an object whose 'rules' has 'events')",
    )


def _public_rule(index: int, item: object) -> Rule:
    where = f"rule #{index + 1}"
    if not isinstance(item, Mapping):
        raise ConfigError("plan", f"{where} is {type(item).__name__}, not an object")
    key = item.get("key") or ""
    if not isinstance(key, str):
        raise ConfigError("plan", f"{where}: 'key' must be a string, not {type(key).__name__}")
    where = f"rule #{index + 1}" + (f" ({key!r})" if key else "")
    kind = item.get("type")
    if kind not in RULE_TYPES:
        raise ConfigError("plan", f"{where}: unknown type {kind!r} (expected one of {', '.join(RULE_TYPES)})")
    schema = item.get("jsonSchema")
    if schema is None:
        schema = {}
    return _rule(where, cast("RuleType", kind), key, item.get("version", 1), schema, "")


def _legacy_rules(rules: Mapping[str, Any]) -> Iterable[Rule]:
    events = rules.get("events") or []
    if not isinstance(events, list):
        raise ConfigError("plan", "rules.events must be a list")
    for index, event in enumerate(events):
        where = f"rules.events[{index}]"
        if not isinstance(event, Mapping):
            raise ConfigError("plan", f"{where} is {type(event).__name__}, not an object")
        name = event.get("name")
        where += f" ({name!r})" if isinstance(name, str) else ""
        description = event.get("description") or ""
        schema = event.get("rules")
        yield _rule(
            where, "TRACK", name, event.get("version", 1), {} if schema is None else schema, description
        )
    for field, kind in _LEGACY_RULES:
        schema = rules.get(field)
        if schema:  # an empty rule constrains nothing
            yield _rule(f"rules.{field}", kind, "", 1, schema, "")


def _rule(  # noqa: PLR0917 - internal
    where: str, kind: RuleType, key: object, version: object, schema: object, description: str
) -> Rule:
    if kind == "TRACK" and (not isinstance(key, str) or not key):
        raise ConfigError("plan", f"{where}: a TRACK rule needs a non-empty event name as its key")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError("plan", f"{where}: version must be a positive integer, not {version!r}")
    if not isinstance(schema, Mapping):
        raise ConfigError("plan", f"{where}: the JSON Schema must be an object, not {type(schema).__name__}")
    described = schema.get("description")
    if not description and isinstance(described, str):
        description = described
    return Rule(kind, str(key or ""), version, schema, description if isinstance(description, str) else "")


def _unique(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    seen: set[tuple[str, str, int]] = set()
    found = []
    for rule in rules:
        identity = (rule.type, rule.key, rule.version)
        if identity in seen:
            raise ConfigError("plan", f"{rule.label} appears twice")
        seen.add(identity)
        found.append(rule)
    return tuple(found)
