"""Percentiles and one-line reports."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def latency_line(name: str, samples_s: list[float]) -> str:
    ms = [s * 1000 for s in samples_s]
    return (
        f"{name:<48} n={len(ms):>6}  p50={statistics.median(ms):7.3f} ms  "
        f"p99={percentile(ms, 0.99):7.3f} ms  max={max(ms):7.3f} ms"
    )
