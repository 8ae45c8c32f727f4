"""The command line and its local server: `demo`, `sink`, `send`, `e2e-cli`, and `SegmentSink`.

May import every layer below. Nothing in the library imports it but `__main__` and the public
`testing` module (which re-exports the sink).
"""
