"""What every layer above shares: settings, seams, guarded user code, the emitter, the counters.

Owns the settings, the clock and HTTP-client seams, `UserWork` (every call into user code), the
emitter and its payloads, the counters and `Stats`, fork hooks, blocking work at interpreter exit and
the rate-limited log lines. May import `_message`; nothing of delivery or of an event's life.
"""
