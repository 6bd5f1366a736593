"""Small statistics for the benchmarks: percentiles, medians and spread of repeated runs.

Pure functions (no numpy needed), unit-tested in tests/unit/test_bench_stats.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's
    default, "linear"). NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError("q must be within [0, 100]")
    data = sorted(values)
    if not data:
        return math.nan
    if len(data) == 1:
        return float(data[0])
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    frac = pos - lo
    return float(data[lo] + (data[hi] - data[lo]) * frac)


def percentiles(values: Sequence[float], qs: Iterable[float] = (50, 95, 99)) -> dict:
    """{q: percentile} computed on one sorted copy."""
    data = sorted(values)
    return {q: percentile(data, q) for q in qs}


@dataclass(frozen=True)
class Spread:
    """Median and spread of repeated measurements of one quantity."""

    median: float
    p5: float
    p95: float
    q1: float
    q3: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        data = sorted(values)
        return cls(percentile(data, 50), percentile(data, 5), percentile(data, 95), percentile(data, 25),
                   percentile(data, 75), len(data))

    def as_dict(self) -> dict:
        return {"median": self.median, "p5": self.p5, "p95": self.p95, "q1": self.q1, "q3": self.q3, "n": self.n}


def ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def fmt_ms(seconds: float, digits: int = 2) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "n/a"
    return f"{seconds * 1000:.{digits}f}"


def fmt_int(value: float) -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "n/a"
    return f"{int(round(value)):,}"


def histogram_merge(hists: Iterable[dict]) -> dict:
    """Merge {bucket: count} histograms (used to merge per-process latency buckets)."""
    out: dict = {}
    for h in hists:
        for k, v in h.items():
            out[k] = out.get(k, 0) + v
    return out
