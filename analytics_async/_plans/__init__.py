"""Tracking plans: reading, checking, the plugin of each call, and typed code generation.

What a plan file says (`plan`), one rule compiled (`check`), the plan as a whole (`tracking`), the
plugin that checks each call (`plugin`) and the typed module generated from a plan (`codegen`).
Owns the plan's rules and their compiled validators. May import `errors`, `_version`, `_message`
(to see an event as its JSON) and `_core` (`PlanViolation`, the `violation` event's payload);
imports nothing of the client, which sees the plugin only through the structural `CallCheck`
protocol of `_lifecycle.stage`. Imported only when a plan is used: `import analytics_async` loads
none of it, nor `jsonschema_rs`.
"""
