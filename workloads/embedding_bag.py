"""EmbeddingBag, as in recommendation models (DLRM): each bag of sparse feature ids gathers its
rows from a large float32 table and pools them, by sum or by mean, into one vector.

Memory bound: the table (16 rows per bag, 64 float32 each, 256 MB at default) is far larger
than any last-level cache, and ids are drawn from a power law over rows that are scattered
through the table, so most lookups are random 256-byte reads from DRAM. ``bytes`` counts each
distinct row looked up once (78% of the table: what has to come from memory at least; a repeat
is a hot row, found in cache), plus the ids, offsets and the output. Counting every lookup as a
DRAM read overstated the traffic 2.3 times, and read the kernel at more than triad's bandwidth.

Rows are summed in bag order, one float32 add per element, exactly as the reference does, so
kernel and reference agree to the last bit; the mean divides the sum by the bag's length.
"""

from __future__ import annotations

import numba
import numpy as np

from harness.workload import Workload

DIM = 64
ROWS_PER_BAG = 16  # table rows per bag of the batch: 2**20 rows (256 MB) at default
MEAN_LOOKUPS = 32  # lookups per bag, on average
HASH = 0x9E3779B1  # odd, so rank * HASH mod 2**k is a bijection: hot rows scattered


@numba.njit(cache=True, inline="always")
def _pool_bag(
    table: np.ndarray, ids: np.ndarray, lo: int, hi: int, mean: bool, out: np.ndarray
) -> None:
    """out = sum (or mean) of table[ids[lo:hi]]; an empty bag pools to zeros."""
    for d in range(DIM):
        out[d] = 0.0
    for p in range(lo, hi):
        row = table[ids[p]]
        for d in range(DIM):
            out[d] += row[d]
    if mean and hi > lo:
        count = np.float32(hi - lo)
        for d in range(DIM):
            out[d] /= count


@numba.njit(cache=True)
def bag_speed(
    table: np.ndarray, ids: np.ndarray, offsets: np.ndarray, mean: np.ndarray, out: np.ndarray
) -> np.ndarray:
    for b in range(out.shape[0]):
        _pool_bag(table, ids, offsets[b], offsets[b + 1], mean[b], out[b])
    return out


@numba.njit(cache=True, parallel=True)
def bag_rate(
    table: np.ndarray, ids: np.ndarray, offsets: np.ndarray, mean: np.ndarray, out: np.ndarray
) -> np.ndarray:
    for b in numba.prange(out.shape[0]):
        _pool_bag(table, ids, offsets[b], offsets[b + 1], mean[b], out[b])
    return out


def bag_reference(
    table: np.ndarray, ids: np.ndarray, offsets: np.ndarray, mean: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """Vectorised over bags, sequential within each: step s adds every bag's s-th row, so each
    bag's rows are summed in order in float32, as the kernel does."""
    starts, lengths = offsets[:-1], np.diff(offsets)
    pooled = np.zeros((lengths.size, DIM), dtype=np.float32)
    for step in range(int(lengths.max(initial=0))):
        (active,) = np.nonzero(lengths > step)
        pooled[active] += table[ids[starts[active] + step]]
    divide = mean & (lengths > 0)
    pooled[divide] /= lengths[divide, None].astype(np.float32)
    return pooled


def bag_baseline(
    table: np.ndarray, ids: np.ndarray, offsets: np.ndarray, mean: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """What a NumPy user writes: gather every row, ``reduceat`` the bags, divide the means
    (``reduceat`` sums in its own order: equal within float32 rounding, not bitwise)."""
    lengths = np.diff(offsets)
    pooled = np.zeros((lengths.size, DIM), dtype=np.float32)
    full = lengths > 0
    pooled[full] = np.add.reduceat(table[ids], offsets[:-1][full], axis=0)
    divide = mean & full
    pooled[divide] /= lengths[divide, None].astype(np.float32)
    return pooled


def table_rows(n: int) -> int:
    return ROWS_PER_BAG * n


def make_inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """n bags of 32 lookups on average (broken-stick lengths, a few empty), half mean-pooled.

    Row popularity is a power law (rank = rows * u**2: the hottest 1% of rows take 10% of
    lookups), and ranks are scattered through the table by a multiplicative hash.
    """
    rows = table_rows(n)
    table = rng.standard_normal((rows, DIM), dtype=np.float32)
    lookups = MEAN_LOOKUPS * n
    cuts = np.sort(rng.integers(0, lookups + 1, size=n - 1))
    offsets = np.concatenate([[0], cuts, [lookups]]).astype(np.int64)
    rank = (rows * rng.random(lookups) ** 2).astype(np.int64)
    ids = (rank * HASH) % rows
    mean = rng.random(n) < 0.5
    out = np.zeros((n, DIM), dtype=np.float32)
    return table, ids, offsets, mean, out


# Distinct rows a batch looks up, as a fraction of the table: with rank = rows * u**2 and two
# lookups a row on average, 1 - E[exp(-1 / sqrt(x))] over x uniform in [0, 1); make_inputs'
# draws give 0.781 at tiny and 0.7807 at small.
DISTINCT_ROWS = 0.7806


def _bytes(n: int) -> float:
    """Compulsory traffic: every distinct row once, each lookup's id, the offsets, mean flags
    and pooled output. A lower bound on what moves, so the fraction of triad is one too."""
    rows = DISTINCT_ROWS * table_rows(n) * 4.0 * DIM
    return rows + MEAN_LOOKUPS * n * 8.0 + n * (4.0 * DIM + 9.0)


WORKLOAD = Workload(
    name="embedding_bag",
    category="embed",
    description="EmbeddingBag sum/mean pooling of Zipf-ish sparse ids from a 64-wide table",
    unit="lookups",
    bound="memory",
    # table: 1 MB (tiny), 32 MB (about an LLC), 256 MB, 1 GB: default and large far past it.
    sizes={"tiny": 1 << 8, "small": 1 << 13, "default": 1 << 16, "large": 1 << 18},
    work=lambda n: float(MEAN_LOOKUPS * n),
    bytes=_bytes,
    flops=lambda n: float(MEAN_LOOKUPS * n * DIM),
    make_inputs=make_inputs,
    speed=bag_speed,
    rate=bag_rate,
    reference=bag_reference,
    baseline=bag_baseline,
    # Same float32 adds in the same order, then the same division: bitwise equal (the tests
    # check it); the tolerance is one float32 rounding, in case a compiler fuses differently.
    rtol=1e-6,
    atol=1e-6,
)
