"""The benchmarks' statistics and report plumbing (bench/stats.py, bench/report.py,
bench/loadgen.py's schedule): small pure functions the published figures rest on."""
import math

import pytest

from bench.loadgen import arrival_times
from bench.report import cpu_speed, data_line, insert_section, machine_short, read_data
from bench.stats import Spread, percentile, percentiles


def test_percentile_interpolates_like_numpy_linear():
    data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert percentile(data, 0) == 1 and percentile(data, 100) == 10
    assert percentile(data, 50) == pytest.approx(5.5)
    assert percentile(data, 95) == pytest.approx(9.55)
    assert percentile(list(reversed(data)), 25) == pytest.approx(3.25)  # order does not matter
    assert percentile([7], 99) == 7
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(data, 101)


def test_percentiles_and_spread():
    data = list(range(101))
    assert percentiles(data, (50, 99)) == {50: 50.0, 99: 99.0}
    s = Spread.of([3.0, 1.0, 2.0, 5.0, 4.0])
    assert (s.median, s.q1, s.q3, s.n) == (3.0, 2.0, 4.0, 5)
    assert s.p5 == pytest.approx(1.2) and s.p95 == pytest.approx(4.8)


def test_open_loop_schedule_is_fixed_and_evenly_spaced():
    due = arrival_times(1000, 2.0)
    assert len(due) == 2000 and due[0] == 0.0
    assert due[1] - due[0] == pytest.approx(0.001) and due[-1] == pytest.approx(1.999)
    poisson = arrival_times(500, 10.0, poisson=True, seed=1)
    assert poisson == arrival_times(500, 10.0, poisson=True, seed=1)  # reproducible
    assert 4500 < len(poisson) < 5500 and all(0 <= t < 10 for t in poisson)
    assert poisson == sorted(poisson)
    assert arrival_times(0, 10) == [] and arrival_times(10, 0) == []


OTHER = "<!-- emergence:start -->\n## Emergence\ntext\n<!-- emergence:end -->\n"


def test_sections_are_inserted_in_order_and_leave_other_sections_alone():
    text = "# Benchmarks\n\n" + OTHER
    text = insert_section(text, "votes", "## votes v1")
    text = insert_section(text, "rpc", "## rpc")
    text = insert_section(text, "stream", "## stream")
    text = insert_section(text, "summary", "## summary")
    assert text.index("bench-summary:start") < text.index("bench-rpc:start") < text.index("bench-votes:start") \
        < text.index("bench-stream:start") < text.index("emergence:start")
    assert OTHER in text  # byte for byte
    again = insert_section(text, "votes", "## votes v2")
    assert "## votes v2" in again and "## votes v1" not in again
    assert again.replace("## votes v2", "## votes v1") == text  # nothing else moved
    assert insert_section("", "rpc", "x").startswith("# Benchmarks\n")


def test_section_data_round_trips_through_the_markdown():
    line = data_line("rpc", {"ratio": 1.25, "met": True, "nan": float("nan")})
    text = insert_section("# Benchmarks\n", "rpc", "## rpc\n\n" + line)
    assert read_data(text) == {"rpc": {"ratio": 1.25, "met": True, "nan": None}}


def test_cpu_speed_is_the_median_run_in_milliseconds_and_shows_in_the_machine_line(monkeypatch):
    import time

    clock = iter([0.0, 0.010, 1.0, 1.030, 2.0, 2.020])  # runs of 10, 30 and 20 ms of CPU
    monkeypatch.setattr(time, "process_time", lambda: next(clock))
    assert cpu_speed(runs=3) == pytest.approx(20.0)
    clock = iter([0.0, 0.045] * 7)
    assert "CPU speed index 45 ms" in machine_short({"platform": "p", "cpus": 2})



def _vote_step(rate, served, p99):
    return {"offered_rate": rate, "throughput": served, "p50": p99 / 2, "p95": p99, "p99": p99, "max": p99,
            "error_rate": 0.0, "events_published": int(served), "events_expected": int(served), "duration": 10.0,
            "outbox_drained_after_s": 0.1, "cpu_ms_per_vote": {}}


def test_votes_capacity_without_a_saturated_step_is_a_lower_bound():
    from bench import votes

    unsaturated = [_vote_step(1000, 999, 0.04), _vote_step(2000, 1990, 0.09)]
    saturated = [_vote_step(1000, 999, 0.05), _vote_step(2000, 1500, 3.0)]
    assert not votes.saturated(unsaturated[-1]) and votes.saturated(saturated[-1])
    r = {"curves": {"1": unsaturated, "2": saturated}, "capacity": {"1": 1990, "2": 1500},
         "capacity_reached": {"1": False, "2": True}, "max_rate_meeting_target": {"1": 2000, "2": 1000},
         "sustained": dict(_vote_step(1000, 999, 0.05), duration=60.0), "sustained_rate": 1000.0,
         "sustained_consumers": 1, "probe": None, "step_duration": 10.0, "proposals": 300, "target_rate": 1000.0,
         "target_met": True, "date": "today"}
    text, data = votes.render(r, "machine", 1.0, "x.png")
    assert "1 process(es): at least 1,990 votes/s, 2 process(es): 1,500 votes/s;" in text
    assert "the sweep's last rate did not saturate" in text
    assert data["capacity_reached"] == {"1": False, "2": True}
    r["capacity_reached"] = {"1": True, "2": True}
    text, _ = votes.render(r, "machine", 1.0, "x.png")
    assert "at least" not in text and "did not saturate" not in text
