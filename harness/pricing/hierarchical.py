"""A suite ratio's interval from both levels of its data: cases, and processes within a case.

A suite ratio is the geometric mean of per-case ratios, target over baseline. Its uncertainty
has two sources: which cases the suite holds, and how each case's figure moved from one worker
process to the next (7-16% here, against 1% between rounds). A bootstrap over cases alone
misses the second: with one case, or with cases that agree, it claims near-certainty even when
each side was measured in three noisy processes. So each bootstrap replicate resamples the
cases with replacement and, for every case drawn, redraws each side's log time from its own
processes: the mean of its K process log medians moves by ``sd / sqrt(K) * t(K - 1)``, the
sampling law of that mean. A side measured in one process cannot be redrawn (nothing shows how
processes differ); the method says how many cases that left fixed, and when every case is fixed
the ratio is not judged (no interval).

Replicates of runs (several runs of one target, several instances of a type) enter through
the per-case figures: ``summary._cases`` pools them as processes of one case.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from harness.measure.sample_stats import CONFIDENCE, NOT_JUDGED, Estimate

METHOD = "hierarchical bootstrap: cases, then processes within each"


def _side_noise(rng: np.random.Generator, sd: np.ndarray, k: np.ndarray) -> np.ndarray:
    """A draw of each drawn case's mean log time about its estimate (zero where K < 2)."""
    usable = (k >= 2) & np.isfinite(sd)
    df = np.where(usable, k - 1, 1.0)
    scale = np.where(usable, sd / np.sqrt(np.where(usable, k, 1.0)), 0.0)
    draws: np.ndarray = rng.standard_t(df) * scale
    return draws


def hierarchical_geomean(
    log_ratios: Sequence[float],
    target: tuple[Sequence[float], Sequence[float]],
    baseline: tuple[Sequence[float], Sequence[float]],
    confidence: float = CONFIDENCE,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """Geometric mean of per-case ratios with a percentile interval from the two-level bootstrap.

    ``target`` and ``baseline`` are each (sd of the log process medians, process count) per
    case, in the order of ``log_ratios``. Cases are sorted first so their order changes nothing.
    """
    order = np.argsort(np.asarray(log_ratios, dtype=float), kind="stable")
    logs = np.asarray(log_ratios, dtype=float)[order]
    if logs.size == 0 or not np.all(np.isfinite(logs)):
        raise ValueError("hierarchical_geomean needs one or more finite log ratios")
    sides = [(np.asarray(sd, dtype=float)[order], np.asarray(k, dtype=float)[order])
             for sd, k in (target, baseline)]  # fmt: skip
    value, n = math.exp(float(logs.mean())), int(logs.size)
    fixed = int(sum(np.any([(k < 2) | ~np.isfinite(sd) for sd, k in sides], axis=0)))
    method = METHOD + (f" ({fixed} of {n} cases in one process: not redrawn)" if fixed else "")
    if fixed == n:  # resampling cases alone would pass off their scatter as the whole error
        cases = "the case was" if n == 1 else f"all {n} cases were"
        why = f"{NOT_JUDGED}: {cases} measured in one process on a side"
        return Estimate(value, math.nan, math.nan, n, why, confidence)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(n_resamples, n))
    (sd_t, k_t), (sd_b, k_b) = sides
    noise = _side_noise(rng, sd_t[picks], k_t[picks]) - _side_noise(rng, sd_b[picks], k_b[picks])
    replicate = (logs[picks] + noise).mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = (math.exp(float(q)) for q in np.percentile(replicate, [tail, 100 - tail]))
    return Estimate(value, min(low, value), max(high, value), n, method, confidence)
