"""The test behind each verdict of ``harness compare``: on processes when there are several.

Replicates are what a test needs, and a round of a process is not one: rounds agree within a
process far better than between processes (see ``harness.measure.pooling``). So when both sides hold
at least two worker processes' medians (``--processes``, or several runs per side), the test is
Yuen's trimmed Welch t on their logarithms: timings are multiplicative, the log makes a ratio
a difference, and with 3-20 replicates a rank test cannot reach significance after correction
(5 against 5 gives at best p = 0.008, 0.11 after BH over 14 cases). 20% is trimmed from each
end (one of five): one process in a bad state (here one of three ran 20% slower than its
siblings) otherwise hides a real 10% slowdown (p 0.19 untrimmed, 0.001 trimmed). Below five
replicates nothing is trimmed. The ratio is the ratio of the trimmed geometric means, with
the test's interval.

With one process on a side there is nothing between processes to measure, and the pair is not
judged: the ratio of the medians is shown with no interval and no p-value. A test on that
process's rounds (a Mann-Whitney U, as this module once did) treats rounds as replicates; an A/A
of two single-process runs here flagged 3 of 14 cases, each process's rounds within 1% while the
processes differed by 25%.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from harness.measure.sample_stats import CONFIDENCE, NOT_JUDGED, Estimate

MIN_SAMPLES = 2
ONE_PROCESS = f"{NOT_JUDGED}: one process"  # a side with one process: no replicates
TRIM = 0.2


@dataclass(frozen=True)
class Test:
    """One pair's point ratio (candidate over base time), its interval, and its p-value."""

    ratio: Estimate  # candidate time over base time
    p_value: float | None
    method: str  # "processes" (their medians were tested), or ONE_PROCESS (nothing was)
    centers: tuple[float, float] | None = None  # geometric means of the process medians

    @property
    def time_ratio(self) -> float:
        return self.ratio.value


def bh_adjust(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values over the pairs that were tested."""
    tested = [i for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    if tested:
        bh = stats.false_discovery_control([p_values[i] for i in tested], method="bh")
        for i, q in zip(tested, bh, strict=True):
            adjusted[i] = float(q)
    return adjusted


def welch_log(base: Sequence[float], cand: Sequence[float]) -> Test:
    """Yuen-Welch t on log process medians: trimmed geometric-mean ratio, interval, p-value."""
    lb, lc = np.log(np.asarray(base, dtype=float)), np.log(np.asarray(cand, dtype=float))
    n = len(lb) + len(lc)
    mb, mc = float(stats.trim_mean(lb, TRIM)), float(stats.trim_mean(lc, TRIM))
    diff, centers = mc - mb, (math.exp(mb), math.exp(mc))
    if np.ptp(lb) < 1e-12 and np.ptp(lc) < 1e-12:  # no spread: the difference is exact
        exact = Estimate(math.exp(diff), math.exp(diff), math.exp(diff), n, "exact")
        return Test(exact, 1.0 if diff == 0 else 0.0, "processes", centers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # near-identical replicates: precision warnings only
        res = stats.ttest_ind(lc, lb, equal_var=False, trim=TRIM)
        ci = res.confidence_interval(CONFIDENCE)
    p = float(res.pvalue)
    low, high = math.exp(float(ci.low)), math.exp(float(ci.high))
    ratio = Estimate(math.exp(diff), low, high, n, "Yuen trimmed t")
    return Test(ratio, 1.0 if math.isnan(p) else p, "processes", centers)


def pair_test(base: Sequence[float], cand: Sequence[float]) -> Test:
    """Test one pair on each side's process medians; one process on a side is not judged."""
    if min(len(base), len(cand)) >= MIN_SAMPLES:
        return welch_log(base, cand)
    value = float(np.median(cand) / np.median(base))
    ratio = Estimate(value, n=len(base) + len(cand), method=ONE_PROCESS)
    return Test(ratio, None, ONE_PROCESS)
