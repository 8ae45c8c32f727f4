"""The `plan` commands: `pull` a plan from the Public API, `codegen` a typed module, `check` recorded events.

Exit codes as every command's (docs/cli.md): 0 done (and clean); 1 it ran and failed (the API
refused, a stale module, violations found); 2 invalid input, one line saying what.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import sys
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final, TextIO

import aiohttp

from ..errors import ConfigError
from .commands import UsageError, json_object

__all__ = ["DEFAULT_API", "PAGE_SIZE", "pull_rules", "run_check", "run_codegen", "run_pull"]

DEFAULT_API: Final = "https://api.segmentapis.com"
"""The Public API (EU workspaces: https://eu1.api.segmentapis.com)."""
PAGE_SIZE: Final = 200
MAX_PAGES: Final = 1000
"""A plan of 200,000 rules: past that the cursor is taken to be going round in circles."""
TOKEN_VARIABLE: Final = "SEGMENT_PUBLIC_API_TOKEN"  # noqa: S105 - the variable's name, not a token


class PullError(Exception):
    """The Public API did not give the plan: one line, exit code 1."""


def _plans() -> Any:  # noqa: ANN401 - the module, imported only by the plan commands
    try:
        from .._plans import codegen, tracking  # noqa: PLC0415 - needs the plans extra
    except ImportError as exc:
        raise UsageError(
            f"tracking plans need the plans extra: pip install 'analytics-async[plans]' ({exc})"
        ) from None
    return tracking.TrackingPlan, codegen.generate


def _load(path: str) -> Any:  # noqa: ANN401 - a TrackingPlan
    tracking_plan, _ = _plans()
    try:
        return tracking_plan.load(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


# -- pull ----------------------------------------------------------------------------------------


async def _get(session: aiohttp.ClientSession, url: str, params: Mapping[str, str] | None = None) -> Any:  # noqa: ANN401
    try:
        async with session.get(url, params=params) as response:
            text = await response.text()
            if response.status in (401, 403):
                raise PullError(
                    f"the Public API refused the token ({response.status}): check {TOKEN_VARIABLE}"
                )
            if response.status == 404:
                raise PullError(f"not found (404): {url} (is the id a Public API id, tp_...?)")
            if response.status >= 400:
                raise PullError(
                    f"the Public API answered {response.status} for {url}: {' '.join(text.split())[:200]}"
                )
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PullError(f"cannot reach {url}: {type(exc).__name__}: {exc}".rstrip(": ")) from None
    try:
        data = json.loads(text)
    except ValueError:
        raise PullError(f"the Public API's answer for {url} is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
        raise PullError(f"the Public API's answer for {url} has no 'data' object")
    return data["data"]


async def pull_rules(
    plan_id: str, token: str, *, api: str = DEFAULT_API, timeout: float = 30.0
) -> dict[str, Any]:
    """The plan `plan_id` as `{"trackingPlan": {...}, "rules": [...]}`, every page of its rules.

    Each request is bounded by `timeout` seconds.

    Raises:
        PullError: the API refused, timed out or answered something else than a plan.
    """
    base = f"{api.rstrip('/')}/tracking-plans/{plan_id}"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.segment.v1+json"}
    async with aiohttp.ClientSession(
        headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        meta = (await _get(session, base)).get("trackingPlan") or {}
        rules: list[Any] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params = {"pagination.count": str(PAGE_SIZE)}
            if cursor:
                params["pagination.cursor"] = cursor
            page = await _get(session, f"{base}/rules", params)
            if not isinstance(page.get("rules"), list):
                raise PullError(f"the Public API's answer for {base}/rules has no 'rules' list")
            rules += page["rules"]
            pagination = page.get("pagination")
            cursor = pagination.get("next") if isinstance(pagination, dict) else None
            if not cursor:
                return {"trackingPlan": meta, "rules": rules}
        raise PullError(f"more than {MAX_PAGES} pages of rules: the cursor does not end")


async def run_pull(args: Any, out: TextIO | None = None) -> int:  # noqa: ANN401 - argparse.Namespace
    """`plan pull --id ID -o FILE`: fetch the plan, check it is valid, write it."""
    out = out or sys.stdout
    token = os.environ.get(TOKEN_VARIABLE)
    if not token:
        raise UsageError(f"a Public API token is needed in the {TOKEN_VARIABLE} environment variable")
    tracking_plan, _ = _plans()
    try:
        data = await pull_rules(args.id, token, api=args.api_url, timeout=args.timeout)
    except PullError as exc:
        sys.stderr.write(f"analytics-async: error: {exc}\n")
        return 1
    try:
        plan = tracking_plan.from_data(data, args.id)
    except ConfigError as exc:
        sys.stderr.write(f"analytics-async: error: the plan pulled is not valid: {exc}\n")
        return 1
    target = pathlib.Path(args.output)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(target)
    out.write(f"wrote {len(plan.rules)} rules of {plan.name!r} to {target}\n")
    return 0


# -- codegen -------------------------------------------------------------------------------------


def run_codegen(args: Any, out: TextIO | None = None) -> int:  # noqa: ANN401 - argparse.Namespace
    """`plan codegen PLAN [-o FILE] [--check]`: write (or compare) the typed module."""
    out = out or sys.stdout
    _, generate = _plans()
    plan = _load(args.plan)
    text = generate(plan, pathlib.Path(args.plan).name)
    if args.output is None:
        if args.check:
            raise UsageError("--check needs -o FILE, the module to compare")
        out.write(text)
        return 0
    target = pathlib.Path(args.output)
    if args.check:
        try:
            current = target.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {target}: {exc.strerror or exc}") from None
        if current != text:
            out.write(f"{target} is stale: regenerate it with plan codegen {args.plan} -o {target}\n")
            return 1
        out.write(f"{target} is up to date with {args.plan}\n")
        return 0
    target.write_text(text, encoding="utf-8")
    out.write(f"wrote {target}\n")
    return 0


# -- check ---------------------------------------------------------------------------------------


def _events(path: str) -> list[dict[str, Any]]:
    try:
        lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return [json_object(line, f"{path}:{number}") for number, line in enumerate(lines, 1) if line.strip()]


def run_check(args: Any, out: TextIO | None = None) -> int:  # noqa: ANN401 - argparse.Namespace
    """`plan check --plan PLAN EVENTS`: a table of violations per event and path; exit 1 if any."""
    out = out or sys.stdout
    plan = _load(args.plan)
    events = _events(args.events)
    counts: Counter[tuple[str, str, str]] = Counter()
    example: dict[tuple[str, str, str], str] = {}
    broken = 0
    for event in events:
        found = [v for v in plan.check(event) if v.rule is not None or not args.allow_unplanned]
        broken += bool(found)
        for violation in found:
            key = (violation.event, violation.path, violation.rule or "(unplanned)")
            counts[key] += 1
            example.setdefault(key, violation.reason)
    if counts:
        width = max(12, *(len(k[0]) for k in counts))
        out.write(f"{'event':<{width}}  {'path':<28}  {'rule':<32}  {'count':>5}  first reason\n")
        for key, count in sorted(counts.items()):
            name, path, rule = key
            out.write(f"{name:<{width}}  {path:<28}  {rule:<32}  {count:>5}  {example[key]}\n")
    out.write(
        f"checked {len(events)} events against {plan.name!r}: "
        f"{broken} break the plan ({sum(counts.values())} violations)\n"
    )
    return 1 if counts else 0


def run(args: Any) -> int:  # noqa: ANN401 - argparse.Namespace
    """Run the chosen `plan` subcommand."""
    if args.plan_command == "pull":
        return asyncio.run(run_pull(args))
    if args.plan_command == "codegen":
        return run_codegen(args)
    return run_check(args)
