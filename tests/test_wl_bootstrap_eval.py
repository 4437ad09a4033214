"""bootstrap_eval: the counter-based draws, the pass@k estimator and the intervals' statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workloads import bootstrap_eval as wl


def test_kernel_and_numpy_draw_the_same_items() -> None:
    """The scalar splitmix64 in the kernel and the vectorised one in NumPy agree bit for bit."""
    seed, n = np.uint64(0xDEADBEEF12345), 1000
    expected = wl.draws(seed, 3, 2, n)
    got = [[wl._draw(seed, np.uint64(b * n + j), np.uint64(n)) for j in range(n)] for b in (3, 4)]
    assert np.array_equal(np.array(got, np.int64), expected)


def test_draws_cover_the_items_uniformly() -> None:
    """Every item is drawn about equally often (chi-square far below its 99.9% quantile)."""
    idx = wl.draws(np.uint64(7), 0, 200, 500)
    counts = np.bincount(idx.ravel(), minlength=500)
    expected = idx.size / 500
    assert idx.min() >= 0 and idx.max() < 500
    assert ((counts - expected) ** 2 / expected).sum() < 500 + 4 * math.sqrt(2 * 500)


CASES = [(200, 0, 1), (200, 200, 100), (200, 37, 1), (200, 37, 10), (200, 5, 100), (10, 9, 2)]


@pytest.mark.parametrize(("n", "c", "k"), CASES)
def test_pass_at_k_equals_the_binomial_formula(n: int, c: int, k: int) -> None:
    """The stable product equals 1 - C(n-c, k) / C(n, k) computed with exact integers."""
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert wl._pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12, abs=1e-15)


def test_pass_at_1_is_the_fraction_correct() -> None:
    """With k = 1 the estimator reduces to c / n, averaged over problems."""
    n_samples = np.full(3, 20, np.int64)
    correct = np.array([[0, 10, 20]], np.int64)
    table = wl._pass_table(n_samples, correct, np.array([1], np.int64))
    assert table[0, 0] == pytest.approx(0.5, abs=1e-15)


def test_constant_scores_give_a_zero_width_interval() -> None:
    """Every resample of a constant column has the same mean: the interval collapses on it."""
    scores, seed, _, n_samples, correct, ks = wl.make_inputs(8, np.random.default_rng(0))
    scores = np.ascontiguousarray(np.full_like(scores, 0.25))
    means, ci, _ = wl.bootstrap_speed(scores, seed, 50, n_samples, correct, ks)
    assert np.all(means == 0.25) and np.all(ci == 0.25)


def test_resample_means_have_the_standard_error_of_the_mean() -> None:
    """Bootstrap means centre on the sample mean with spread std / sqrt(N), within 10%."""
    inputs = wl.make_inputs(2000, np.random.default_rng(1))
    scores = inputs[0]
    means, ci, _ = wl.bootstrap_rate(*inputs)
    se = scores.std(axis=0) / math.sqrt(scores.shape[0])
    np.testing.assert_allclose(means.mean(axis=0), scores.mean(axis=0), atol=0.2 * se.max())
    np.testing.assert_allclose(means.std(axis=0), se, rtol=0.1)
    assert np.all((ci[:, 0] < scores.mean(axis=0)) & (scores.mean(axis=0) < ci[:, 1]))


def test_rate_form_matches_speed_form_bitwise() -> None:
    """Chunks of resamples on any thread give the same bytes as the single stream."""
    inputs = wl.make_inputs(300, np.random.default_rng(2))
    for a, b in zip(wl.bootstrap_speed(*inputs), wl.bootstrap_rate(*inputs), strict=True):
        assert np.array_equal(a, b)


def test_columns_not_a_multiple_of_eight_are_summed_exactly() -> None:
    """A last group narrower than eight columns is handled (the sums use the same draws)."""
    scores, seed, _, n_samples, correct, ks = wl.make_inputs(8, np.random.default_rng(4))
    scores = np.ascontiguousarray(np.hstack([scores, scores[:, :3] * 0.5]))
    got = wl.bootstrap_speed(scores, seed, 40, n_samples, correct, ks)
    want = wl.bootstrap_reference(scores, seed, 40, n_samples, correct, ks)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
