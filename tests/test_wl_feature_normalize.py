"""feature_normalize: z-scores are standardized, buckets are quantiles, ties follow searchsorted."""

from __future__ import annotations

import numpy as np
import pytest

from workloads import feature_normalize as fn

KERNELS = [fn.normalize_speed, fn.normalize_rate, fn.normalize_reference]


def _run(kernel, x: np.ndarray, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    z, ids = kernel(x, sample, np.zeros_like(x), np.zeros(x.shape, dtype=np.uint8))
    return np.asarray(z), np.asarray(ids)


def test_z_scores_have_zero_mean_and_unit_deviation() -> None:
    """Every varying column comes out with mean 0 and deviation 1."""
    x, sample, z, ids = fn.make_inputs(40_000, np.random.default_rng(1))
    z, _ = fn.normalize_rate(x, sample, z, ids)
    varying = x.std(axis=1) > 0
    assert np.allclose(z[varying].mean(axis=1, dtype=np.float64), 0.0, atol=1e-5)
    assert np.allclose(z[varying].std(axis=1, dtype=np.float64), 1.0, atol=1e-5)


def test_continuous_columns_fill_the_16_buckets_evenly() -> None:
    """On a normal column each quantile bucket holds about 1/16 of the rows."""
    x, sample, z, ids = fn.make_inputs(50_000, np.random.default_rng(2))
    _, ids = fn.normalize_speed(x, sample, z, ids)
    shares = np.bincount(ids[0], minlength=fn.BUCKETS) / x.shape[1]
    assert np.allclose(shares, 1 / fn.BUCKETS, atol=0.01)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_ties_count_the_boundaries_at_or_below_the_value(kernel) -> None:  # type: ignore[no-untyped-def]
    """A column of 0, 1, 2, 3 (each a quarter) has boundaries 0 0 0 1 1 1 1 2 2 2 2 3 3 3 3."""
    x = np.tile(np.repeat(np.arange(4, dtype=np.float32), 4), (1, 16))
    _, ids = _run(kernel, x, np.arange(x.shape[1], dtype=np.int64))
    by_value = {v: set(ids[0][x[0] == v].tolist()) for v in range(4)}
    assert by_value == {0: {3}, 1: {7}, 2: {11}, 3: {15}}


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_constant_column_gives_zero_scores_in_the_top_bucket(kernel) -> None:  # type: ignore[no-untyped-def]
    """Zero variance is not divided by: scores are 0, and every boundary is <= the value."""
    x = np.full((2, 1000), 7.25, dtype=np.float32)
    z, ids = _run(kernel, x, np.arange(0, 1000, 3, dtype=np.int64))
    assert (z == 0).all() and (ids == fn.BUCKETS - 1).all()


def test_boundaries_come_from_the_sample_rows_only() -> None:
    """Rows outside the sample move no boundary: outliers there fall in the end buckets."""
    x = np.arange(1000, dtype=np.float32).reshape(1, 1000)
    sample = np.arange(0, 1000, 2, dtype=np.int64)
    x[0, 1::2] += 1e6  # every unsampled row is a huge outlier
    _, ids = _run(fn.normalize_speed, x, sample)
    assert (ids[0, 1::2] == fn.BUCKETS - 1).all()
    assert set(np.bincount(ids[0, ::2], minlength=fn.BUCKETS).tolist()) == {31, 32}  # 500/16


def test_radix_sort_orders_floats_as_numpy_does() -> None:
    """Negatives, signed zeros, infinities and ties come out in NumPy's order."""
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [rng.standard_normal(500) * 1e3, [-0.0, 0.0, np.inf, -np.inf, 1.5, 1.5, -2.0, -2.0]]
    ).astype(np.float32)
    assert np.array_equal(fn._sorted(values), np.sort(values))
