"""logprob_eval: the polynomial exp, the blocked online log-sum-exp and the arg-max ties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workloads import logprob_eval as wl


def test_polynomial_exp_is_accurate_to_a_few_ulp() -> None:
    """Over the range a log-softmax sees, exp(d) is within 4e-16 relative of libm's."""
    for d in np.concatenate([-np.geomspace(1e-12, 700.0, 3000), [0.0, -0.5, -math.log(2)]]):
        assert wl._exp_nonpos(d) == pytest.approx(math.exp(d), rel=4e-16, abs=0.0)


def test_exp_far_below_the_floor_stays_finite_and_negligible() -> None:
    """Below -708 (and at -inf) exp is clamped to ~1e-308: finite, and nothing next to 1."""
    for d in (-709.0, -1e6, -np.inf):
        assert 0.0 <= wl._exp_nonpos(d) < 1e-300


def test_uniform_logits_give_log_vocab_and_first_index_argmax() -> None:
    """Equal logits: NLL is log(V) for any target, and the arg-max is index 0 (NumPy's rule)."""
    logits = np.full((2, wl.VOCAB), 3.5, np.float32)
    nll, correct = wl.logprob_speed(logits, np.array([0, 17], np.int64))
    np.testing.assert_allclose(nll, math.log(wl.VOCAB), rtol=1e-13)
    assert correct.tolist() == [True, False]


def test_tied_maxima_in_different_blocks_pick_the_first() -> None:
    """Two equal maxima in different blocks: the earlier one is the prediction."""
    logits = np.zeros((1, wl.VOCAB), np.float32)
    logits[0, 3 * wl.BLOCK + 5] = logits[0, 9 * wl.BLOCK + 1] = 4.0
    _, correct = wl.logprob_rate(logits, np.array([3 * wl.BLOCK + 5], np.int64))
    _, wrong = wl.logprob_rate(logits, np.array([9 * wl.BLOCK + 1], np.int64))
    assert correct[0] and not wrong[0]


def test_rising_logits_rescale_the_running_sum() -> None:
    """A max that grows in every block (rescaling each time) still matches the reference."""
    logits = np.linspace(-30.0, 30.0, wl.VOCAB, dtype=np.float32)[None, :].copy()
    targets = np.array([wl.VOCAB - 1], np.int64)
    got, want = wl.logprob_speed(logits, targets), wl.logprob_reference(logits, targets)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    assert got[1][0] and want[1][0]


def test_vocab_not_a_multiple_of_the_block_is_summed_whole() -> None:
    """A short last block is included: a row of 1000 logits matches the reference."""
    logits = np.random.default_rng(0).standard_normal((3, 1000)).astype(np.float32) * 4
    targets = np.array([0, 999, 512], np.int64)
    got, want = wl.logprob_speed(logits, targets), wl.logprob_reference(logits, targets)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    assert np.array_equal(got[1], want[1])


def test_summary_reports_perplexity_and_accuracy() -> None:
    """Perplexity is exp(mean NLL); accuracy the share of correct tokens (~1/3 by design)."""
    nll, correct = wl.logprob_speed(*wl.make_inputs(300, np.random.default_rng(0)))
    report = wl.summary(nll, correct)
    assert report["perplexity"] == pytest.approx(math.exp(nll.mean()))
    assert 0.25 < report["accuracy"] < 0.42
