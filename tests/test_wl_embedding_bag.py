"""embedding_bag: exact pooling semantics, empty bags, and the shape of the generated ids."""

from __future__ import annotations

import numpy as np
import pytest

from workloads import embedding_bag as wl

KERNELS = [wl.bag_speed, wl.bag_rate]


def _hand_made() -> tuple[np.ndarray, ...]:
    """Row r of the table is r in every column, so sums and means are exact small numbers."""
    table = np.repeat(np.arange(8, dtype=np.float32)[:, None], wl.DIM, axis=1)
    ids = np.array([1, 2, 3, 7, 7, 4, 0, 5], dtype=np.int64)
    offsets = np.array([0, 3, 5, 5, 8], dtype=np.int64)  # bags: [1,2,3] [7,7] [] [4,0,5]
    mean = np.array([False, True, True, True])
    return table, ids, offsets, mean, np.zeros((4, wl.DIM), dtype=np.float32)


@pytest.mark.parametrize("kernel", KERNELS, ids=["speed", "rate"])
def test_sum_mean_and_empty_bags_give_known_answers(kernel) -> None:
    """Sum of rows 1+2+3 is 6, mean of 7 and 7 is 7, an empty bag is 0, mean of 4,0,5 is 3."""
    pooled = kernel(*_hand_made())
    assert np.array_equal(pooled, np.repeat([[6.0], [7.0], [0.0], [3.0]], wl.DIM, axis=1))


@pytest.mark.parametrize("kernel", KERNELS, ids=["speed", "rate"])
def test_kernels_equal_the_reference_bitwise(kernel) -> None:
    """Rows are added in bag order in float32 on both sides, so not one bit differs."""
    inputs = wl.make_inputs(wl.WORKLOAD.sizes["tiny"], np.random.default_rng(3))
    assert np.array_equal(kernel(*inputs), wl.bag_reference(*inputs))


def test_reference_equals_a_plain_python_loop() -> None:
    """The vectorised reference sums each bag in order, as a loop over its rows would."""
    table, ids, offsets, mean, out = wl.make_inputs(64, np.random.default_rng(4))
    expected = np.zeros_like(out)
    for b in range(out.shape[0]):
        for p in range(offsets[b], offsets[b + 1]):
            expected[b] += table[ids[p]]
        if mean[b] and offsets[b + 1] > offsets[b]:
            expected[b] /= np.float32(offsets[b + 1] - offsets[b])
    assert np.array_equal(wl.bag_reference(table, ids, offsets, mean, out), expected)


def test_generated_ids_are_skewed_scattered_and_in_range() -> None:
    """The hottest 1% of rows take several times their share; hot rows are not all adjacent."""
    n = 1 << 12
    table, ids, offsets, _, _ = wl.make_inputs(n, np.random.default_rng(5))
    assert table.shape == (wl.table_rows(n), wl.DIM)
    assert offsets[-1] == ids.size == wl.WORKLOAD.work(n)
    assert ids.min() >= 0 and ids.max() < table.shape[0] and np.all(np.diff(offsets) >= 0)
    counts = np.sort(np.bincount(ids, minlength=table.shape[0]))[::-1]
    assert counts[: table.shape[0] // 100].sum() > 0.05 * ids.size
    hottest = np.argsort(np.bincount(ids, minlength=table.shape[0]))[-100:]
    assert np.ptp(hottest) > table.shape[0] // 2
