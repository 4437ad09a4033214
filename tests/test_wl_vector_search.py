"""vector_search: planted neighbours are found, ties go to the lower index, int8 tracks float."""

from __future__ import annotations

import numpy as np
import pytest

from workloads import vector_search as wl

KERNELS = [wl.search_speed, wl.search_rate]


@pytest.fixture(scope="module")
def inputs() -> tuple[np.ndarray, ...]:
    return wl.make_inputs(3, np.random.default_rng(11))


@pytest.mark.parametrize("kernel", KERNELS, ids=["speed", "rate"])
def test_float_form_finds_the_planted_neighbours_at_their_cosines(kernel, inputs) -> None:
    """The ten best float32 scores are the planted cosines 0.90 ... 0.54, in order."""
    idx_f, score_f, _, _ = kernel(*inputs)
    assert np.allclose(score_f, np.broadcast_to(wl.LEVELS, score_f.shape), atol=1e-5)
    queries, corpus = inputs[0], inputs[1]
    assert np.allclose(np.einsum("qd,qkd->qk", queries, corpus[idx_f]), wl.LEVELS, atol=1e-5)


@pytest.mark.parametrize("kernel", KERNELS, ids=["speed", "rate"])
def test_int8_ties_go_to_the_lower_index(kernel, inputs) -> None:
    """Copies of one row score exactly alike in int8, and are listed by ascending index."""
    queries, corpus, q8, q_scale, c8, c_scale = (a.copy() for a in inputs)
    best = int(kernel(queries, corpus, q8, q_scale, c8, c_scale)[2][0, 0])
    copies = [5, 1500, 4097, c8.shape[0] - 1]  # in different corpus blocks
    c8[copies], c_scale[copies] = c8[best], c_scale[best]
    idx_q, score_q = kernel(queries, corpus, q8, q_scale, c8, c_scale)[2:]
    assert list(idx_q[0, :5]) == sorted([best, *copies])
    assert np.all(score_q[0, :5] == score_q[0, 0])
    expected = wl.search_reference(queries, corpus, q8, q_scale, c8, c_scale)
    assert np.array_equal(idx_q, expected[2]) and np.array_equal(score_q, expected[3])


def test_int8_scores_track_the_float_scores(inputs) -> None:
    """Quantisation moves a cosine by well under 0.01 and keeps the planted order."""
    idx_f, score_f, idx_q, score_q = wl.search_speed(*inputs)
    assert np.array_equal(idx_q, idx_f)
    assert np.abs(score_q - score_f).max() < 0.01


def test_baseline_agrees_with_the_reference(inputs) -> None:
    """The NumPy alternative that make perf times returns the same neighbours."""
    got, expected = wl.search_baseline(*inputs), wl.search_reference(*inputs)
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[2], expected[2])
    assert np.allclose(got[1], expected[1], atol=1e-5) and np.array_equal(got[3], expected[3])
