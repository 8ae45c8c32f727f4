"""Benchmarks of analytics-async (run as modules: `python -m benchmarks.bench_hot_path`)."""
