"""Statistics of raw timing samples: medians with distribution-free confidence intervals.

Timings are skewed and heavy-tailed (a preempted round is 10x slower, never 10x faster), so the
harness reports the median, and its interval comes from order statistics (the binomial
quantile test), which assumes nothing about the shape of the distribution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class MedianCI:
    """A median and its confidence interval; ``method`` says how the interval was found."""

    median: float
    low: float
    high: float
    n: int
    method: str


def median_ci(samples: Sequence[float], confidence: float = CONFIDENCE) -> MedianCI:
    """Median of ``samples`` with an order-statistic confidence interval.

    Below about six samples no pair of order statistics reaches 95% coverage; the interval is
    then the full range of the samples, and ``method`` says so instead of pretending.
    """
    data = np.asarray(samples, dtype=float)
    if data.size == 0:
        raise ValueError("no samples")
    if not np.all(np.isfinite(data)):
        raise ValueError("samples must be finite")
    median = float(np.median(data))
    if data.size > 1:
        from scipy import stats  # here, not at import: workers use this module without it

        ci = stats.quantile_test(data, q=median, p=0.5).confidence_interval(confidence)
        low, high = float(ci.low), float(ci.high)
        if math.isfinite(low) and math.isfinite(high):
            return MedianCI(median, min(low, median), max(high, median), int(data.size), "order")
    return MedianCI(median, float(data.min()), float(data.max()), int(data.size), "range")


def with_interval(stats: dict[str, Any], samples: Sequence[float]) -> dict[str, Any]:
    """A case's stats with the median and its interval from ``samples`` filled in."""
    ci = median_ci(samples)
    return {**stats, "median_s": ci.median, "ci_low_s": ci.low, "ci_high_s": ci.high,
            "ci_method": ci.method}  # fmt: skip


def percentiles(
    samples: Sequence[float], points: Sequence[float] = (50, 90, 99)
) -> dict[str, float]:
    """Named percentiles (``p50``, ``p90``...) of latency samples."""
    data = np.asarray(samples, dtype=float)
    values = np.percentile(data, points)
    return {f"p{p:g}": float(v) for p, v in zip(points, values, strict=True)}
