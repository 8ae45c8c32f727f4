"""The command line and its local server: `demo`, `sink`, `send`, `e2e-cli`, and `SegmentSink`.

Owns the commands of `python -m analytics_async` and the Segment-compatible local server. May import
every layer below; nothing in the library imports it but `__main__` and the public `testing` module
(which re-exports the sink).
"""
