"""One module per contender; each runs as `python -m benchmarks.clients.NAME EVENTS URL`."""
