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

With one process on a side there is nothing between processes to measure; the test falls back
to a Mann-Whitney U on the raw rounds (no shape assumed) and a percentile-bootstrap interval of
the ratio of medians, and the comparison says its verdicts rest on rounds of one process.
"""

from __future__ import annotations

import inspect
import math
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from harness.measure.sample_stats import CONFIDENCE, Estimate

MIN_SAMPLES = 2
TRIM = 0.2
_RNG_KW = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"


@dataclass(frozen=True)
class Test:
    """One pair's point ratio (candidate over base time), its interval, and its p-value."""

    ratio: Estimate  # candidate time over base time
    p_value: float | None
    method: str  # what was tested: "processes" (their medians) or "rounds" (of one process)
    centers: tuple[float, float] | None = None  # geometric means of the process medians

    @property
    def time_ratio(self) -> float:
        return self.ratio.value


def mann_whitney(base: Sequence[float], cand: Sequence[float]) -> float | None:
    """Two-sided Mann-Whitney U p-value; None when a side has too few rounds to test."""
    if min(len(base), len(cand)) < MIN_SAMPLES:
        return None
    p = float(stats.mannwhitneyu(cand, base, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p


def bh_adjust(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values over the pairs that were tested."""
    tested = [i for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    if tested:
        bh = stats.false_discovery_control([p_values[i] for i in tested], method="bh")
        for i, q in zip(tested, bh, strict=True):
            adjusted[i] = float(q)
    return adjusted


def bootstrap_ratio_ci(
    base: Sequence[float], cand: Sequence[float], n_resamples: int, seed: Sequence[int]
) -> Estimate:
    """The ratio of medians, cand over base, with its percentile-bootstrap 95% interval."""
    n = len(base) + len(cand)
    if min(len(base), len(cand)) < MIN_SAMPLES:
        return Estimate(math.nan, n=n, method="too few rounds")
    value = float(np.median(cand) / np.median(base))

    def ratio(c: Any, b: Any, axis: int) -> Any:
        return np.median(c, axis=axis) / np.median(b, axis=axis)

    data = (np.asarray(cand), np.asarray(base))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant samples: a degenerate, exact interval
        res = stats.bootstrap(
            data, ratio, vectorized=True, n_resamples=n_resamples, method="percentile",
            **{_RNG_KW: np.random.default_rng(list(seed))},
        )  # fmt: skip
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return Estimate(value, low, high, n, "percentile bootstrap")


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


def pair_test(
    base: tuple[Sequence[float], Sequence[float], float],
    cand: tuple[Sequence[float], Sequence[float], float],
    n_resamples: int,
    seed: int,
    salt: str,
) -> Test:
    """Test one pair; each side is (process medians, raw rounds, median of the rounds)."""
    if min(len(base[0]), len(cand[0])) >= MIN_SAMPLES:
        return welch_log(base[0], cand[0])
    # Seeded from the case itself, so reordering the cases never changes an interval.
    ci = bootstrap_ratio_ci(base[1], cand[1], n_resamples, (seed, zlib.crc32(salt.encode())))
    ratio = Estimate(cand[2] / base[2], ci.low, ci.high, ci.n, ci.method)
    return Test(ratio, mann_whitney(base[1], cand[1]), "rounds")
