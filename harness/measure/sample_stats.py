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


def process_estimate(medians: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """A case's time from its worker processes' medians: geometric mean, t interval on logs.

    The process is the replicate: rounds within one process agree to about 1% while processes
    differ by 7-16% here, so an interval over pooled rounds claims a precision the case does
    not have. Timings are multiplicative, so the logs; K processes leave K - 1 degrees of
    freedom, and three processes give a wide interval, which is the truth. Each process weighs
    the same however many rounds it fitted in its share of the time (a pooled median leaned
    toward the fast ones). On seeded two-level lognormal data with outlier processes the
    interval covers the true centre at 93-95% for K = 3, 5 and 10 (tests/test_stats.py).
    """
    logs = np.log(np.asarray(medians, dtype=float))
    if logs.size < 2 or not np.all(np.isfinite(logs)):
        raise ValueError("process_estimate needs two or more positive, finite medians")
    k, centre, spread = int(logs.size), float(logs.mean()), float(logs.std(ddof=1))
    method = f"t on log medians of {k} processes"
    if spread == 0:
        return Estimate(math.exp(centre), math.exp(centre), math.exp(centre), k, method)
    from scipy import stats  # here, not at import: workers use this module without it

    half = float(stats.t.ppf(0.5 + confidence / 2, k - 1)) * spread / math.sqrt(k)
    low, high = math.exp(centre - half), math.exp(centre + half)
    return Estimate(math.exp(centre), low, high, k, method, confidence)


NOT_JUDGED = "not judged"
ONE_PROCESS = f"{NOT_JUDGED}: one process (its rounds cannot show how processes differ)"


def judged(method: object) -> bool:
    """Whether a case's recorded ``ci_method`` gives it an interval (one process does not)."""
    return not str(method or "").startswith(NOT_JUDGED)


def with_interval(
    stats: dict[str, Any], samples: Sequence[float], process_medians: Sequence[float] = ()
) -> dict[str, Any]:
    """A case's stats with its time and interval filled in from its processes.

    With one process there is no interval: its rounds agree to about 1% while processes differ
    by 7-16%, so an interval from them would claim a precision the case does not have. The time
    is that process's median, ``ci_method`` says why there are no bounds, and readers show the
    case as not judged. The rounds' own median and order-statistic interval (all processes'
    rounds pooled) stay, labelled ``within_*``: how precisely the rounds were timed.
    """
    within = median_ci(samples)
    rounds = {"within_median_s": within.value, "within_low_s": within.low,
              "within_high_s": within.high}  # fmt: skip
    if len(process_medians) < 2:
        return {**stats, "median_s": within.value, "ci_low_s": None, "ci_high_s": None,
                "ci_method": ONE_PROCESS, **rounds}  # fmt: skip
    case = process_estimate(process_medians)
    return {**stats, "median_s": case.value, "ci_low_s": case.low, "ci_high_s": case.high,
            "ci_method": case.method, **rounds}  # fmt: skip


def percentiles(
    samples: Sequence[float], points: Sequence[float] = (50, 90, 99)
) -> dict[str, float]:
    """Named percentiles (``p50``, ``p90``...) of latency samples."""
    data = np.asarray(samples, dtype=float)
    values = np.percentile(data, points)
    return {f"p{p:g}": float(v) for p, v in zip(points, values, strict=True)}
