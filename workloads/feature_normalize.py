"""Feature preprocessing for tabular training data: standardize every column (z-scores from
the column's mean and standard deviation) and bucketize it into 16 quantile buckets.

The table is 64 float32 columns stored column-major, shape ``(64, rows)``: that is how Arrow
record batches hold columns and how pandas hands out a float32 frame (``df.to_numpy()`` is
Fortran-ordered), and it makes each column's statistics one contiguous stream.

Quantile boundaries come from a fixed random sample of rows (``make_inputs`` draws its
indices): boundary ``q`` is element ``q * S // 16`` of the column's sorted sample, an order
statistic with no interpolation, so the kernels and the reference pick the very same float and
the bucket id, the number of boundaries ``<= x`` (``np.searchsorted(..., side="right")``), is
exact, ties included. Integer-valued and constant columns exercise the ties.

Each kernel handles a column start to end: a sweep for its shifted sums (float64), the
sample's order statistics (radix sort), then a fused sweep writing z-scores and bucket ids
while the column (4 MB at default) is still in the last-level cache, so DRAM sees each input
byte once: 4 bytes read, 4 + 1 written per element. The rate form runs columns in parallel:
one parallel region per call, where a region per tile stalls on every busy or descheduled
thread; it caps the rate form at 64 threads, far past what saturates memory bandwidth.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from harness.workload import Workload

COLUMNS = 64
BUCKETS = 16
SAMPLE = 4096  # rows sampled for the quantile boundaries


# Reassociation lets LLVM split each sum over vector lanes: within the tolerance (the float64
# sums of float32 data differ from NumPy's pairwise ones in the last bits either way).
@numba.njit(cache=True, fastmath={"reassoc"})
def _moments(col: np.ndarray) -> tuple[float, float]:
    """Mean and inverse standard deviation (1 for a constant column), from sums of
    ``x - x[0]`` and its square: the shift keeps large means from cancelling the variance."""
    shift = np.float64(col[0])
    t1 = 0.0
    t2 = 0.0
    for i in range(col.size):
        d = np.float64(col[i]) - shift
        t1 += d
        t2 += d * d
    m1 = t1 / col.size
    std = math.sqrt(max(t2 / col.size - m1 * m1, 0.0))
    return shift + m1, 1.0 / std if std > 0.0 else 1.0


@numba.njit(cache=True)
def _sorted(values: np.ndarray) -> np.ndarray:
    """Float32 values sorted by an LSD radix sort of their order-preserving uint32 keys
    (Numba's quicksort takes 85 ns an element here, 40x NumPy's; this takes about 5)."""
    keys = values.view(np.uint32).copy()
    for i in range(keys.size):
        sign = keys[i] >> np.uint32(31)
        keys[i] ^= np.uint32(0xFFFFFFFF) if sign else np.uint32(0x80000000)
    spare = np.empty_like(keys)
    for shift in range(0, 32, 8):
        counts = np.zeros(257, dtype=np.int64)
        for i in range(keys.size):
            counts[((keys[i] >> np.uint32(shift)) & np.uint32(255)) + 1] += 1
        for d in range(256):
            counts[d + 1] += counts[d]
        for i in range(keys.size):
            digit = (keys[i] >> np.uint32(shift)) & np.uint32(255)
            spare[counts[digit]] = keys[i]
            counts[digit] += 1
        keys, spare = spare, keys
    for i in range(keys.size):
        sign = keys[i] >> np.uint32(31)
        keys[i] ^= np.uint32(0x80000000) if sign else np.uint32(0xFFFFFFFF)
    return keys.view(np.float32)


@numba.njit(cache=True)
def _boundaries(col: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """The 15 inner quantile boundaries: order statistics of the column's sorted sample."""
    values = _sorted(col[sample])
    bounds = np.empty(BUCKETS - 1, dtype=np.float32)
    for q in range(1, BUCKETS):
        bounds[q - 1] = values[q * sample.size // BUCKETS]
    return bounds


@numba.njit(cache=True)
def _transform(
    col: np.ndarray, mean: float, inv: float, bounds: np.ndarray, z: np.ndarray, ids: np.ndarray
) -> None:
    """z-scores and bucket ids (boundaries ``<= x``) in one sweep; the 15 comparisons unroll
    and the sweep vectorizes (16 float32 lanes on AVX-512). The loop runs from 0: an index
    Numba cannot prove non-negative gets a wraparound select that turns loads into gathers."""
    for i in range(col.size):
        v = col[i]
        z[i] = np.float32((np.float64(v) - mean) * inv)
        k = 0
        for q in range(BUCKETS - 1):
            k += v >= bounds[q]
        ids[i] = k


@numba.njit(cache=True)
def _column(col: np.ndarray, sample: np.ndarray, z: np.ndarray, ids: np.ndarray) -> None:
    """One column, start to end: its second sweep finds it still in cache."""
    mean, inv = _moments(col)
    _transform(col, mean, inv, _boundaries(col, sample), z, ids)


@numba.njit(cache=True)
def normalize_speed(
    x: np.ndarray, sample: np.ndarray, z: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    for c in range(x.shape[0]):
        _column(x[c], sample, z[c], ids[c])
    return z, ids


@numba.njit(cache=True, parallel=True)
def normalize_rate(
    x: np.ndarray, sample: np.ndarray, z: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    for c in numba.prange(x.shape[0]):
        _column(x[c], sample, z[c], ids[c])
    return z, ids


def normalize_reference(
    x: np.ndarray, sample: np.ndarray, z: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized NumPy, column by column (float64 temporaries of one column at a time)."""
    z_ref = np.empty_like(x)
    ids_ref = np.empty(x.shape, dtype=np.uint8)
    picks = np.arange(1, BUCKETS) * sample.size // BUCKETS
    for c, col in enumerate(x):
        wide = col.astype(np.float64)
        mean = wide.mean()
        std = wide.std()
        z_ref[c] = (wide - mean) * (1.0 / std if std > 0 else 1.0)
        bounds = np.sort(col[sample])[picks]
        ids_ref[c] = np.searchsorted(bounds, col, side="right")
    return z_ref, ids_ref


def make_inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A (64, n) float32 table of mixed distributions, the sample rows, and the outputs."""
    x = np.empty((COLUMNS, n), dtype=np.float32)
    for c in range(COLUMNS):
        kind = c % 8
        if kind == 0:
            x[c] = rng.standard_normal(n, dtype=np.float32)
        elif kind == 1:
            x[c] = rng.lognormal(0.0, 1.0, n)  # skewed, positive
        elif kind == 2:
            x[c] = rng.integers(0, 8, n)  # few distinct values: tied boundaries
        elif kind == 3:
            x[c] = rng.uniform(-1e3, 1e3, n)
        elif kind == 4:
            x[c] = 1e4 + rng.standard_normal(n, dtype=np.float32)  # large mean, small spread
        elif kind == 5:
            x[c] = np.float32(c)  # constant: zero variance
        else:
            x[c] = rng.standard_normal(n, dtype=np.float32) * (c + 1) - c
    sample = np.sort(rng.choice(n, size=min(n, SAMPLE), replace=False)).astype(np.int64)
    # Outputs allocated and filled here (np.zeros maps pages lazily), so the timed region
    # writes warm pages instead of taking page faults.
    return x, sample, np.full(x.shape, 0.0, dtype=np.float32), np.full(x.shape, 0, dtype=np.uint8)


WORKLOAD = Workload(
    name="feature_normalize",
    category="preprocess",
    description="z-score and 16-quantile bucketize 64 float32 columns (column-major table)",
    unit="rows",
    bound="memory",
    sizes={"tiny": 2_000, "small": 100_000, "default": 1_000_000, "large": 4_000_000},
    work=lambda n: float(n),
    # STREAM's convention, as triad: each element read once (the second sweep finds the
    # column in cache), written as float32 and uint8; write-allocate reads are not counted.
    bytes=lambda n: 9.0 * COLUMNS * n,
    # Sums (4), z-score (2) and 15 comparisons per element.
    flops=lambda n: 21.0 * COLUMNS * n,
    make_inputs=make_inputs,
    speed=normalize_speed,
    rate=normalize_rate,
    reference=normalize_reference,
    # The kernels sum in vector lanes, NumPy pairwise: mean and std differ in the last bits
    # of a float64, which can move a float32 z-score by one unit in the last place (6e-8).
    # Bucket ids are integers: exact.
    rtol=1e-6,
    atol=1e-6,
)
