"""The benchmarks still run (tiny sizes; no timing is asserted)."""

from __future__ import annotations

from benchmarks import bench_hot_path, bench_json


def test_json_benchmark_runs() -> None:
    """bench_json measures both backends."""
    result = bench_json.measure(number=10)
    assert set(result) >= {"stdlib"}
    assert all(value > 0 for value in result.values())


async def test_hot_path_benchmark_runs() -> None:
    """bench_hot_path measures every variant and delivers every event."""
    result = await bench_hot_path.measure(events=50, repeat=1)
    assert len(result) == 3
    assert all(value > 0 for value in result.values())
