"""Statistics of raw timing samples: medians with distribution-free confidence intervals.

Also the one shape every interval in the harness takes (``Estimate``) and the confidence they
are computed at, here at the bottom of the pipeline so every stage can import them.

Timings are skewed and heavy-tailed (a preempted round is 10x slower, never 10x faster), so the
harness reports the median, and its interval comes from order statistics (the binomial
quantile test), which assumes nothing about the shape of the distribution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point value and its confidence interval, with how and from how many values it came.

    Every interval in the harness is one: a case's median time, a comparison's ratio, a
    price-performance figure, a suite's geometric mean. NaN bounds mean there is no interval
    (too few values); ``method`` says how the bounds were found, so a reader can tell an
    order-statistic interval from a bootstrap or a fallback range.
    """

    value: float
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    method: str = ""
    confidence: float = CONFIDENCE

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.low, self.high)

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def map(self, f: Callable[[float], float]) -> Estimate:
        """The estimate of ``f`` of the quantity; ``f`` must be monotone (decreasing swaps bounds).

        A monotone function of a quantity has its interval at the function of the bounds, so
        every figure derived from a time (throughput, cost, perf per dollar) keeps its coverage.
        """
        a, b = f(self.low), f(self.high)
        if math.isnan(a) or math.isnan(b):
            return replace(self, value=f(self.value), low=math.nan, high=math.nan)
        return replace(self, value=f(self.value), low=min(a, b), high=max(a, b))

    @classmethod
    def from_columns(cls, row: Mapping[str, Any], name: str) -> Estimate:
        """The estimate a table row holds in ``name``, ``name_low``, ``name_high``."""
        value, low, high = (float(row[f"{name}{end}"]) for end in ("", "_low", "_high"))
        return cls(value, low, high)

    def columns(self, name: str) -> dict[str, float]:
        """The estimate as the table columns ``name``, ``name_low``, ``name_high``."""
        return {name: self.value, f"{name}_low": self.low, f"{name}_high": self.high}


def median_ci(samples: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
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
            low, high = min(low, median), max(high, median)
            return Estimate(median, low, high, int(data.size), "order", confidence)
    low, high = float(data.min()), float(data.max())
    return Estimate(median, low, high, int(data.size), "range", confidence)


def with_interval(stats: dict[str, Any], samples: Sequence[float]) -> dict[str, Any]:
    """A case's stats with the median and its interval from ``samples`` filled in."""
    ci = median_ci(samples)
    return {**stats, "median_s": ci.value, "ci_low_s": ci.low, "ci_high_s": ci.high,
            "ci_method": ci.method}  # fmt: skip


def percentiles(
    samples: Sequence[float], points: Sequence[float] = (50, 90, 99)
) -> dict[str, float]:
    """Named percentiles (``p50``, ``p90``...) of latency samples."""
    data = np.asarray(samples, dtype=float)
    values = np.percentile(data, points)
    return {f"p{p:g}": float(v) for p, v in zip(points, values, strict=True)}
