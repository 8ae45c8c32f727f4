"""The event's life: `Analytics`, and the `Runtime` that opens, settles and closes every event.

Owns `Analytics` with its six calls, the Runtime, its `Intake` (accepting), the `Ledger` of open
events, the `Settler`, the plugin stage and the plugin types. May import `_delivery`, `_core` and
`_message`. Only this layer opens, settles and closes events.
"""
