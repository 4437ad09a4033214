"""Evaluation statistics: percentile-bootstrap confidence intervals of mean scores for several
models and metrics, and the unbiased pass@k of Chen et al. (2021) from per-problem sample
counts, the two numbers every leaderboard row carries.

Resample b draws item ``splitmix64(seed + (b * N + j + 1) * golden) -> [0, N)`` for j = 0..N-1
(the counter-based generator of Steele et al. 2014): no generator state, so the kernel (any
thread, any order) and the vectorised NumPy reference draw the same items, and sum them in the
same order (j ascending), so resample means agree to the last bit.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from harness.workload import Workload

ITEMS = 2000  # evaluation items each resample draws (with replacement)
COLUMNS = 8  # 4 models x 2 metrics (exact match, judge score)
MODELS, PROBLEMS, SAMPLES = 4, 164, 200  # pass@k: HumanEval-sized, 200 samples a problem
KS = (1, 10, 100)
ALPHA = 0.05  # 95% intervals
CHUNK = 64  # resamples per parallel task
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1, MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
U30, U27, U31, U32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)


@numba.njit(cache=True, inline="always")
def _draw(seed: np.uint64, counter: np.uint64, n: np.uint64) -> np.uint64:
    """Item index in [0, n) from splitmix64 of (seed, counter): Lemire's multiply-shift."""
    z = seed + (counter + np.uint64(1)) * GOLDEN
    z = (z ^ (z >> U30)) * MIX1
    z = (z ^ (z >> U27)) * MIX2
    z = z ^ (z >> U31)
    return ((z >> U32) * n) >> U32


@numba.njit(cache=True)
def _column_sums(
    scores: NDArray[np.float64], idx: NDArray[np.uint64], g: int, out: NDArray[np.float64]
) -> None:
    """Sums of columns g..g+7 over the drawn rows, in draw order. Eight scalar accumulators
    stay in registers: eight independent add chains, so the adds pipeline instead of waiting
    on a store and reload of an accumulator array (2x faster). A narrower last group repeats
    a column."""
    w = min(8, scores.shape[1] - g) - 1
    c0, c1, c2, c3 = g, g + min(1, w), g + min(2, w), g + min(3, w)
    c4, c5, c6, c7 = g + min(4, w), g + min(5, w), g + min(6, w), g + min(7, w)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    for j in range(idx.size):
        r = idx[j]
        a0 += scores[r, c0]
        a1 += scores[r, c1]
        a2 += scores[r, c2]
        a3 += scores[r, c3]
        a4 += scores[r, c4]
        a5 += scores[r, c5]
        a6 += scores[r, c6]
        a7 += scores[r, c7]
    out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7] = a0, a1, a2, a3, a4, a5, a6, a7


@numba.njit(cache=True)
def _resamples(
    lo: int, hi: int, scores: NDArray[np.float64], seed: np.uint64, means: NDArray[np.float64]
) -> None:
    """Means of resamples lo..hi-1: a whole resample's indices first (a loop LLVM
    vectorises), then the gathered rows summed per column in draw order."""
    n, cols = scores.shape
    idx = np.empty(n, np.uint64)  # unsigned: indexing needs no negative-index fix-up
    sums = np.empty(8)
    un = np.uint64(n)
    for b in range(lo, hi):
        base = np.uint64(b) * un
        for j in range(n):
            idx[j] = _draw(seed, base + np.uint64(j), un)
        for g in range(0, cols, 8):
            _column_sums(scores, idx, g, sums)
            for t in range(min(8, cols - g)):
                means[b, g + t] = sums[t] / n


@numba.njit(cache=True)
def _lerp(a: float, b: float, t: float) -> float:
    """NumPy's interpolation between order statistics (numpy.lib._function_base_impl._lerp)."""
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t


@numba.njit(cache=True)
def _interval(column: np.ndarray, out: np.ndarray) -> None:
    """Percentile interval, NumPy's default 'linear' quantile of the sorted resample means."""
    s = np.sort(column)
    for e, q in enumerate((ALPHA / 2, 1.0 - ALPHA / 2)):
        v = (s.size - 1) * q
        i = min(int(np.floor(v)), s.size - 1)
        out[e] = _lerp(s[i], s[min(i + 1, s.size - 1)], v - i)


@numba.njit(cache=True)
def _pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k) as a product, stable for n in the hundreds (Chen et al.)."""
    if n - c < k:
        return 1.0
    keep = 1.0
    for i in range(n - c + 1, n + 1):
        keep *= 1.0 - k / i
    return 1.0 - keep


@numba.njit(cache=True)
def _pass_table(
    n_samples: NDArray[np.int64], correct: NDArray[np.int64], ks: NDArray[np.int64]
) -> NDArray[np.float64]:
    out = np.zeros((correct.shape[0], ks.size))
    for m in range(correct.shape[0]):
        for e in range(ks.size):
            for p in range(correct.shape[1]):
                out[m, e] += _pass_at_k(n_samples[p], correct[m, p], ks[e])
            out[m, e] /= correct.shape[1]
    return out


@numba.njit(cache=True)
def bootstrap_speed(
    scores: NDArray[np.float64],
    seed: np.uint64,
    resamples: int,
    n_samples: NDArray[np.int64],
    correct: NDArray[np.int64],
    ks: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    means = np.empty((resamples, scores.shape[1]))
    _resamples(0, resamples, scores, seed, means)
    ci = np.empty((scores.shape[1], 2))
    for m in range(scores.shape[1]):
        _interval(means[:, m], ci[m])
    return means, ci, _pass_table(n_samples, correct, ks)


@numba.njit(cache=True, parallel=True)
def bootstrap_rate(
    scores: NDArray[np.float64],
    seed: np.uint64,
    resamples: int,
    n_samples: NDArray[np.int64],
    correct: NDArray[np.int64],
    ks: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    means = np.empty((resamples, scores.shape[1]))
    for chunk in numba.prange((resamples + CHUNK - 1) // CHUNK):
        lo = chunk * CHUNK
        _resamples(lo, min(resamples, lo + CHUNK), scores, seed, means)
    ci = np.empty((scores.shape[1], 2))
    for m in numba.prange(scores.shape[1]):
        _interval(means[:, m], ci[m])
    return means, ci, _pass_table(n_samples, correct, ks)


def draws(seed: np.uint64, first: int, count: int, n: int) -> np.ndarray:
    """Item indices of resamples first..first+count-1, shape (count, n): vectorised splitmix64."""
    counter = np.arange(first * n, (first + count) * n, dtype=np.uint64).reshape(count, n)
    z = np.uint64(seed) + (counter + np.uint64(1)) * GOLDEN
    z = (z ^ (z >> U30)) * MIX1
    z = (z ^ (z >> U27)) * MIX2
    z ^= z >> U31
    return (((z >> U32) * np.uint64(n)) >> U32).astype(np.int64)


def _means(scores: np.ndarray, seed: np.uint64, resamples: int, ordered: bool) -> np.ndarray:
    n = scores.shape[0]
    out = np.empty((resamples, scores.shape[1]))
    for first in range(0, resamples, 512):
        idx = draws(seed, first, min(512, resamples - first), n)
        if ordered:  # column sums in draw order, as the kernel adds them
            acc = np.zeros((idx.shape[0], scores.shape[1]))
            for j in range(n):
                acc += scores[idx[:, j]]
        else:  # what a NumPy user writes: gather, then a pairwise sum
            acc = scores[idx].sum(axis=1)
        out[first : first + idx.shape[0]] = acc / n
    return out


def _pass_reference(n_samples: np.ndarray, correct: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Chen et al.'s estimator, as published: 1 - prod(1 - k / arange(n - c + 1, n + 1))."""

    def one(n: int, c: int, k: int) -> float:
        return 1.0 if n - c < k else 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))

    return np.array([[np.mean([one(n, c, k) for n, c in zip(n_samples, row, strict=True)])
                      for k in ks] for row in correct])  # fmt: skip


def _outputs(
    means: NDArray[np.float64],
    n_samples: NDArray[np.int64],
    correct: NDArray[np.int64],
    ks: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    ci = np.quantile(means, [ALPHA / 2, 1 - ALPHA / 2], axis=0).T.copy()
    return means, ci, _pass_reference(n_samples, correct, ks)


def bootstrap_reference(
    scores: NDArray[np.float64],
    seed: np.uint64,
    resamples: int,
    n_samples: NDArray[np.int64],
    correct: NDArray[np.int64],
    ks: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    return _outputs(_means(scores, seed, resamples, True), n_samples, correct, ks)


def bootstrap_baseline(
    scores: NDArray[np.float64],
    seed: np.uint64,
    resamples: int,
    n_samples: NDArray[np.int64],
    correct: NDArray[np.int64],
    ks: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    return _outputs(_means(scores, seed, resamples, False), n_samples, correct, ks)


def make_inputs(n: int, rng: np.random.Generator) -> tuple[object, ...]:
    """Per-item scores of 4 models (exact match 0/1, judge score in [0, 1]) on items of
    varying difficulty, and per-problem correct-sample counts for pass@k."""
    difficulty = rng.random(ITEMS)
    skill = np.linspace(0.35, 0.65, MODELS)
    exact = (rng.random((ITEMS, MODELS)) < skill * (1.5 - difficulty[:, None])).astype(float)
    judge = np.clip(0.5 * exact + 0.5 * rng.beta(2.0, 2.0, (ITEMS, MODELS)), 0.0, 1.0)
    scores = np.ascontiguousarray(np.stack([exact, judge], axis=2).reshape(ITEMS, COLUMNS))
    solve = rng.beta(0.5, 1.5, (MODELS, PROBLEMS)) * skill[:, None] / skill.mean()
    correct = rng.binomial(SAMPLES, np.clip(solve, 0.0, 1.0)).astype(np.int64)
    n_samples = np.full(PROBLEMS, SAMPLES, np.int64)
    seed = np.uint64(rng.integers(0, 2**63))
    return scores, seed, n, n_samples, correct, np.array(KS, np.int64)


WORKLOAD = Workload(
    name="bootstrap_eval",
    category="evaluate",
    description="bootstrap CIs of 8 mean scores over 2000 items (counter-based draws), pass@k",
    unit="resamples",
    bound="compute",
    sizes={"tiny": 64, "small": 1000, "default": 10_000, "large": 100_000},
    work=lambda n: float(n),
    # the 128 KB score table stays in cache; memory traffic is the means written and re-read
    bytes=lambda n: ITEMS * COLUMNS * 8.0 + 2 * n * COLUMNS * 8.0,
    # one addition per drawn item and column (the hash is integer work)
    flops=lambda n: float(n) * ITEMS * COLUMNS,
    make_inputs=make_inputs,
    speed=bootstrap_speed,
    rate=bootstrap_rate,
    reference=bootstrap_reference,
    baseline=bootstrap_baseline,
    # means: same draws, same order, bitwise equal; the interval mirrors np.quantile's lerp;
    # pass@k products and means may round differently from NumPy's SIMD reductions (~1e-16)
    rtol=1e-12,
    atol=1e-14,
)
