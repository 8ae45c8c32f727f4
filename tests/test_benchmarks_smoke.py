"""The benchmarks still run (tiny sizes; no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import bench_close_deadline, bench_hot_path, bench_json, compare, report


def test_json_benchmark_runs() -> None:
    """bench_json measures both backends."""
    result = bench_json.measure(number=10)
    assert set(result) >= {"stdlib"}
    assert all(value > 0 for value in result.values())


async def test_hot_path_benchmark_runs() -> None:
    """bench_hot_path measures every variant and delivers every event."""
    result = await bench_hot_path.measure(events=50, repeat=1)
    assert len(result) == 3 + bench_hot_path.HAVE_OTEL_SDK  # the otel variant needs the SDK
    assert all(value > 0 for value in result.values())


def test_comparison_harness_runs() -> None:
    """compare.py runs the floor and analytics-async against its sink and counts no loss."""
    result = compare.measure([300], 1, with_node=False, extras=False)
    summary = compare.summarize(
        {name: runs for name, runs in result["runs"][300].items() if name in (compare.FLOOR, compare.OURS)},
        300,
    )
    assert summary[compare.OURS]["lost"] == 0
    assert summary[compare.OURS]["duplicates"] == 0
    assert summary[compare.FLOOR]["throughput_x_floor"] == 1.0
    result["summaries"] = {300: summary}
    report = compare.render(result, 1, "python -m benchmarks.compare")
    assert "| analytics-async |" in report
    assert "## Targets" in report


async def test_close_deadline_benchmark_runs() -> None:
    """bench_close_deadline measures every scenario and renders a table (no timing is asserted)."""
    result = await bench_close_deadline.measure([20], 1, 0.01)
    assert {scenario for _, scenario in result} == set(bench_close_deadline.SCENARIOS)
    assert "| close, hanging plugin |" in bench_close_deadline.render(result, 0.01, 1)


def test_report_sections_survive_a_rerender(tmp_path: Path) -> None:
    """A benchmark's marked section is replaced in place and kept when the main report is rewritten."""
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Main\n")
    report.write_section(doc, "close-deadline", "## Deadlines\nv1")
    report.write_section(doc, "close-deadline", "## Deadlines\nv2")
    assert doc.read_text().count("## Deadlines") == 1
    assert "v2" in doc.read_text()
    rerendered = "# Main, rerun\n\n" + report.marked_sections(doc.read_text())
    assert "v2" in rerendered
    assert "# Main\n" not in rerendered


def test_sync_workload_runs() -> None:
    """compare.py's sync workload: the drop-in from threads, counted at the sink, rendered with targets."""
    runs = compare.measure_sync(1, threads=2, calls=50)
    table = compare.summarize_sync(runs, 100)
    ours = table[next(iter(compare.SYNC_CONTENDERS))]
    assert (ours["lost"], ours["duplicates"]) == (0, 0)
    text = compare.render_sync(table, 1, "benchmarks-sync.png")
    assert "## The sync drop-in from threads" in text
    if compare.SYNC_OFFICIAL in table:  # segment-analytics-python is in the test extra
        assert "| events/s >= 3x the official SDK's |" in text


def test_plans_benchmark_runs() -> None:
    """benchmarks/plans.py measures every way of checking, and a burst with a plan delivers it all."""
    from benchmarks import plans  # noqa: PLC0415

    checks = plans.per_check(50)
    assert "plan check (ours): the rule and COMMON" in checks
    assert all(value > 0 for value in checks.values())


def test_latency_benchmark_runs() -> None:
    """benchmarks/latency.py times every call of a small burst and the sink counts every event."""
    import asyncio  # noqa: PLC0415

    from benchmarks import latency  # noqa: PLC0415

    sink = compare.Sink()
    try:
        samples = asyncio.run(latency.burst(sink.url, 200))
        assert sink.call("GET", "/stats")["unique"] == 200
    finally:
        sink.stop()
    stats = latency.percentiles(samples)
    assert 0 < stats["p50"] <= stats["p99"] <= stats["max"]
