"""A typed module from a tracking plan: one keyword-only function per planned event, async and sync.

```python
await events.order_completed(analytics, user_id="u1", order_id="o1", total=12.5, currency="USD")
events.order_completed_sync(client, user_id="u1", order_id="o1", total=12.5, currency="USD")
```

Types come from each rule's schema: string/number/integer/boolean/null, `enum` and `const` as
`Literal`, arrays as `Sequence`, objects with properties as `TypedDict`s (closed: other keys are a
type error), `format: date-time`/`date` also taking `datetime`/`date`; required properties are
required arguments, optional ones default to None and are left out of the event when None; unless
`additionalProperties` is false, `extra_properties` (`extra_traits`) takes the rest. Identify and group traits
likewise. The output is deterministic (regenerating an unchanged plan gives the same bytes) and
passes ruff and mypy --strict.
"""

from __future__ import annotations

import builtins
import json
import keyword
import re
from collections.abc import Mapping
from typing import Any, Final

from .plan import Rule
from .tracking import TrackingPlan

__all__ = ["generate"]

FIXED: Final = ("user_id", "anonymous_id", "context", "timestamp", "integrations", "message_id", "callback")
"""Arguments every generated function takes after the event's own."""
_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SCALARS: Final = {"string": "str", "number": "float", "integer": "int", "boolean": "bool", "null": "None"}
_FORMATS: Final = {"date-time": "datetime.datetime", "date": "datetime.date"}
HEADER: Final = '''"""Typed calls for the tracking plan {name}: generated from {source} by analytics-async.

Do not edit: regenerate with `python -m analytics_async plan codegen {source} -o FILE`; CI can
check it is current with `--check`. Each event has an async function (taking an `Analytics`) and
a `_sync` one (taking an `analytics_async.sync.Client`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NotRequired, TypedDict

from analytics_async import Analytics, Context
from analytics_async.sync import Client

Callback = Callable[[Exception | None, Context], object]
"""What an event's `callback` is called with once it settles."""
'''
HELPERS: Final = '''

def _present(values: dict[str, Any], optional: tuple[str, ...]) -> dict[str, Any]:
    """`values` without the optional ones left at None."""
    return {k: v for k, v in values.items() if v is not None or k not in optional}


def _with_version(context: Mapping[str, Any] | None, version: int) -> dict[str, Any]:
    """`context` naming the rule's version, as Segment Protocols reads it."""
    merged = dict(context or {})
    merged["protocols"] = {**merged.get("protocols", {}), "event_version": version}
    return merged
'''


def _str(text: str) -> str:
    """A double-quoted Python string literal (as ruff format writes them)."""
    return json.dumps(text, ensure_ascii=False)


def _snake(text: str) -> str:
    words = [w.lower() for part in _WORD.findall(text) for w in _CAMEL.split(part)]
    name = "_".join(words) or "value"
    if name[0].isdigit():
        name = "p_" + name
    if keyword.iskeyword(name) or name in dir(builtins):
        name += "_"
    return name


def _camel(text: str) -> str:
    return (
        "".join(w[:1].upper() + w[1:] for part in _WORD.findall(text) for w in _CAMEL.split(part)) or "Value"
    )


def _doc_text(text: str) -> str:
    """Safe inside a triple-quoted docstring, one line."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _sentence(text: str) -> str:
    text = _doc_text(text)
    return text if text.endswith((".", "!", "?")) else text + "."


class _Writer:
    """Collects the TypedDicts the types need, named after where they are used."""

    def __init__(self) -> None:
        self.typed_dicts: list[str] = []
        self.defined: list[str] = []
        self._names: dict[str, int] = {}
        self._shapes: dict[str, str] = {}

    def name(self, base: str) -> str:
        count = self._names.get(base, 0)
        self._names[base] = count + 1
        return base if count == 0 else f"{base}{count + 1}"

    def type_of(self, schema: object, hint: str, *, top: bool = False) -> str:
        """The Python type of a JSON Schema (`object` at the top for an untyped value, else Any)."""
        loose = "object" if top else "Any"
        if not isinstance(schema, Mapping):
            return loose
        if "const" in schema:
            return _literal([schema["const"]]) or loose
        if isinstance(schema.get("enum"), list) and (literal := _literal(schema["enum"])):
            return literal
        for combinator in ("anyOf", "oneOf"):
            if isinstance(schema.get(combinator), list):
                return _union(self.type_of(s, hint) for s in schema[combinator]) or loose
        kinds = schema.get("type")
        if isinstance(kinds, str):
            kinds = [kinds]
        if not isinstance(kinds, list) or not kinds:
            return loose
        return _union(self._kind(str(kind), schema, hint) for kind in kinds) or loose

    def _kind(self, kind: str, schema: Mapping[str, Any], hint: str) -> str:
        if kind == "string" and schema.get("format") in _FORMATS:
            return f"str | {_FORMATS[schema['format']]}"
        if kind in _SCALARS:
            return _SCALARS[kind]
        if kind == "array":
            return f"Sequence[{self.type_of(schema.get('items'), hint + 'Item')}]"
        if kind == "object":
            properties = schema.get("properties")
            if (
                not isinstance(properties, Mapping)
                or not properties
                or schema.get("additionalProperties") is True
            ):
                return "dict[str, Any]"
            return self._typed_dict(properties, schema.get("required") or [], hint)
        return "Any"

    def _typed_dict(self, properties: Mapping[str, Any], required: list[Any], hint: str) -> str:
        fields = []
        for key, sub in properties.items():
            kind = self.type_of(sub, hint + _camel(str(key)))
            fields.append((str(key), kind if key in required else f"NotRequired[{kind}]", sub))
        shape = repr([(k, t) for k, t, _ in fields])
        if shape in self._shapes:  # the same object in two places: one TypedDict
            return self._shapes[shape]
        name = self.name(hint)
        self._shapes[shape] = name
        self.defined.append(name)
        if all(k.isidentifier() and not keyword.iskeyword(k) for k, _, _ in fields):
            lines = [f"class {name}(TypedDict):", f'    """The `{_doc_text(hint)}` object."""', ""]
            for key, kind, sub in fields:
                lines.append(f"    {key}: {kind}")
                if isinstance(sub, Mapping) and sub.get("description"):
                    lines.append(f'    """{_sentence(sub["description"])}"""')
        else:
            lines = [f"{name} = TypedDict(", f'    "{name}",', "    {"]
            lines += [f"        {_str(key)}: {kind}," for key, kind, _ in fields]
            lines += ["    },", ")"]
        self.typed_dicts.append("\n".join(lines))
        return name


def _literal(values: list[Any]) -> str | None:
    if not values or not all(v is None or isinstance(v, str | int | bool) for v in values):
        return None
    return "Literal[" + ", ".join(_str(v) if isinstance(v, str) else repr(v) for v in values) + "]"


def _union(types: Any) -> str:  # noqa: ANN401 - an iterable of type strings
    seen: list[str] = []
    for kind in types:
        for part in kind.split(" | "):
            if part not in seen:
                seen.append(part)
    if "float" in seen and "int" in seen:
        seen.remove("int")  # an int is a float to the type checker
    if "None" in seen:  # last, as people write it
        seen.remove("None")
        seen.append("None")
    return " | ".join(seen)


class _Argument:
    def __init__(self, key: str, name: str, kind: str, required: bool, description: str) -> None:
        self.key = key
        self.name = name
        self.kind = kind
        self.required = required
        self.description = description


def _arguments(writer: _Writer, part: Mapping[str, Any], hint: str, taken: set[str]) -> list[_Argument]:
    properties = part.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = part.get("required") or []
    arguments = []
    for key, sub in properties.items():
        name = _snake(str(key))
        while name in taken:
            name += "_"
        taken.add(name)
        kind = writer.type_of(sub, hint + _camel(str(key)), top=True)
        description = sub.get("description", "") if isinstance(sub, Mapping) else ""
        arguments.append(_Argument(str(key), name, kind, key in required, str(description)))
    return arguments


def _signature(first: str, arguments: list[_Argument], extra: str | None, fixed: list[str]) -> list[str]:
    lines = [f"    {first},", "    *,", *fixed]  # group_id, for groups
    lines += [f"    {a.name}: {a.kind}," for a in arguments if a.required]
    lines += [f"    {a.name}: {a.kind}{'' if 'None' in a.kind.split(' | ') else ' | None'} = None,"
              for a in arguments if not a.required]  # fmt: skip
    if extra:
        lines.append(f"    {extra}: Mapping[str, Any] | None = None,")
    return lines


def _docstring(rule: Rule, arguments: list[_Argument], what: str) -> list[str]:
    summary = _sentence(rule.description) if rule.description else f"{what}."
    lines = [f'    """{summary}', "", f"    {_doc_text(what)} ({_doc_text(rule.label)}).", ""]
    lines += [f"    - `{a.name}`: {_sentence(a.description)}" for a in arguments if a.description]
    if lines[-1] == "":
        lines.pop()
    lines.append('    """')
    return lines


def _values(arguments: list[_Argument], extra: str | None) -> list[str]:
    optional = tuple(a.key for a in arguments if not a.required)
    lines = ["    values = _present(", "        {"]
    if extra:
        lines.append(f"            **({extra} or {{}}),")
    lines += [f"            {_str(a.key)}: {a.name}," for a in arguments]
    lines.append("        },")
    if len(optional) == 1:
        lines.append(f"        ({_str(optional[0])},),")
    elif optional:
        lines += ["        (", *(f"            {_str(key)}," for key in optional), "        ),"]
    else:
        lines.append("        (),")
    lines.append("    )")
    return lines


_FIXED_ASYNC: Final = [
    "    user_id: str | None = None,",
    "    anonymous_id: str | None = None,",
    "    context: Mapping[str, Any] | None = None,",
    "    timestamp: datetime.datetime | str | None = None,",
    "    integrations: Mapping[str, Any] | None = None,",
    "    message_id: str | None = None,",
]


def _function(writer: _Writer, rule: Rule, name: str, *, versioned: bool) -> str:
    kind = {"TRACK": "track", "IDENTIFY": "identify", "GROUP": "group"}[rule.type]
    part = rule.part()
    hint = _camel(rule.key) + "Properties" if kind == "track" else _camel(kind) + "Traits"
    field = "properties" if kind == "track" else "traits"
    taken = {*FIXED, "analytics", "client", "values", "group_id", f"extra_{field}"}
    arguments = _arguments(writer, part, hint, taken)
    extra = f"extra_{field}" if part.get("additionalProperties") is not False else None
    what = f"Tracks `{rule.key}`" if kind == "track" else f"{kind.capitalize()} call"
    group = ["    group_id: str,"] if kind == "group" else []
    context = f"_with_version(context, {rule.version})" if versioned else "context"
    common = ["user_id=user_id", "anonymous_id=anonymous_id", f"context={context}", "timestamp=timestamp",
              "integrations=integrations", "message_id=message_id"]  # fmt: skip
    first = (
        [f"event={_str(rule.key)}"] if kind == "track" else ["group_id=group_id"] if kind == "group" else []
    )
    call = [f"        {line}," for line in [*first, f"{field}=values", *common]]
    body = _values(arguments, extra)
    out = [f"async def {name}(", *_signature("analytics: Analytics", arguments, extra, group)]
    out += [*_FIXED_ASYNC, "    callback: Callback | None = None,", ") -> Context:"]
    out += _docstring(rule, arguments, what)
    out += body
    out += [f"    return await analytics.{kind}(", *call, "        callback=callback,", "    )"]
    out += ["", "", f"def {name}_sync(", *_signature("client: Client", arguments, extra, group)]
    out += [*_FIXED_ASYNC, ") -> tuple[bool, dict[str, Any]]:"]
    out += _docstring(rule, arguments, what + ", through the sync drop-in")
    out += body
    out += [f"    return client.{kind}(", *call, "    )"]
    return "\n".join(out)


def generate(plan: TrackingPlan, source: str) -> str:
    """The module's text for `plan` (read from `source`, named in its docstring)."""
    writer = _Writer()
    functions = []
    names: list[str] = []
    versions: dict[tuple[str, str], int] = {}
    for rule in plan.rules:
        versions[(rule.type, rule.key)] = versions.get((rule.type, rule.key), 0) + 1
    for rule in plan.newest():
        if rule.type not in ("TRACK", "IDENTIFY", "GROUP"):
            continue  # page and screen rules, and COMMON, are checked but get no function
        name = _snake(rule.key) if rule.type == "TRACK" else rule.type.lower()
        while (
            name in names or (name in ("identify", "group") and rule.type == "TRACK") or name.startswith("_")
        ):
            name += "_event"
        names.append(name)
        functions.append(_function(writer, rule, name, versioned=versions[(rule.type, rule.key)] > 1))
    all_names = sorted({*names, *(f"{n}_sync" for n in names), *writer.defined})
    parts = [HEADER.format(name=_doc_text(repr(plan.name)), source=_doc_text(source))]
    parts.append("\n__all__ = [\n" + "".join(f'    "{n}",\n' for n in all_names) + "]\n")
    parts += [f"\n\n{t}\n" for t in writer.typed_dicts]
    parts.append(HELPERS)
    parts += [f"\n\n{f}\n" for f in functions]
    return "".join(parts)
