"""Sync code and threads: the segment-analytics-python drop-in, `from_thread`, the loop thread.

Owns the drop-in `Client` and its exit hook, `ThreadCaller`, the background event-loop thread and
the thread-to-loop handoff. May import `_lifecycle` and below; threads hand calls over to the loop
and never touch its state.
"""
