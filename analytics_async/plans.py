"""Tracking plans (Segment Protocols) in Python: check events against them, generate a typed client.

```python
from analytics_async.plans import TrackingPlan

plan = TrackingPlan.load("plan.json")          # the Public API's rules, or Typewriter's plan.json
await analytics.register(plan.plugin(on_violation="warn", on_unplanned="allow"))
```

Needs the `plans` extra (`pip install 'analytics-async[plans]'`, for `jsonschema_rs`); nothing of
it is imported by `import analytics_async`. See docs/plans.md.
"""

from ._core.events import PlanViolation
from ._plans.plan import Rule, RuleType
from ._plans.plugin import OnUnplanned, OnViolation, PlanPlugin, Verdict
from ._plans.tracking import TrackingPlan
from .errors import PlanViolationError

__all__ = [
    "OnUnplanned",
    "OnViolation",
    "PlanPlugin",
    "PlanViolation",
    "PlanViolationError",
    "Rule",
    "RuleType",
    "TrackingPlan",
    "Verdict",
]
