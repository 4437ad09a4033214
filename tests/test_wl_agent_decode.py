"""Behaviour of the agent_decode workload: sampler, counter-based uniforms, both forms."""

from __future__ import annotations

import numpy as np
import pytest

from workloads import agent_decode as ad


@pytest.fixture(scope="module")
def inputs() -> tuple[object, ...]:
    return ad.make_inputs(2, np.random.default_rng(0))


def sample(logits: np.ndarray, u: float) -> int:
    w, cand, tmp = (np.empty(logits.size), np.empty(logits.size, dtype=np.int64),
                    np.empty(logits.size, dtype=np.int64))  # fmt: skip
    return ad._sample(logits, u, w, cand, tmp)


def test_uniforms_match_the_python_splitmix64() -> None:
    """The kernel's and the reference's counter-based uniforms are the same numbers."""
    for seed in (0, 1, 2**63 - 1, 0x9E3779B97F4A7C15):
        for session, step in ((0, 0), (3, 17), (1000, 63)):
            got = ad._uniform(np.uint64(seed), session, step)
            assert got == ad.uniform_py(seed, session, step)
            assert 0.0 <= got < 1.0


def test_sampler_matches_the_sorting_reference_on_ties() -> None:
    """Quickselect top-p picks what a stable sort and a cumulative sum pick, ties included."""
    rng = np.random.default_rng(1)
    rows = [rng.standard_normal(ad.VOCAB) * 2.0, np.round(rng.standard_normal(ad.VOCAB), 1),
            np.zeros(ad.VOCAB)]  # fmt: skip
    for logits in rows:
        us = np.concatenate([[0.0, 1.0 - 2**-53], rng.random(40)])
        expected = ad.sample_reference(np.tile(logits, (us.size, 1)), us)
        assert [sample(logits, u) for u in us] == expected.tolist()


def test_sampler_with_zero_uniform_takes_the_lowest_id_of_the_best() -> None:
    """u = 0 is greedy decoding; among equal best logits the lowest id wins."""
    logits = np.zeros(ad.VOCAB)
    logits[[7, 9, 300]] = 5.0
    assert sample(logits, 0.0) == 7


def test_speed_and_rate_agree_and_rerun_identically() -> None:
    """Alone or in a group of four, a session samples the same tokens; a rerun over a used KV
    cache gives the same bytes."""
    inputs = ad.make_inputs(5, np.random.default_rng(2))  # a group of 4 and a single
    speed, rate, again = ad.decode_speed(*inputs), ad.decode_rate(*inputs), ad.decode_rate(*inputs)
    assert np.array_equal(speed[0], rate[0]) and speed[0].shape == (5, ad.GEN)
    assert np.allclose(speed[1], rate[1], rtol=1e-12, atol=1e-12)
    assert all(np.array_equal(a, b) for a, b in zip(rate, again, strict=True))


def test_sampled_tokens_vary_within_the_vocabulary(inputs: tuple[object, ...]) -> None:
    """Sampling is not stuck: the sessions' tokens are mostly distinct and in range."""
    tokens = ad.decode_speed(*inputs)[0]
    assert tokens.min() >= 0 and tokens.max() < ad.VOCAB
    assert len(np.unique(tokens)) > tokens.size // 2


def test_steps_time_each_generated_token(inputs: tuple[object, ...]) -> None:
    """The step-by-step run reports one positive latency per generated token."""
    latencies = ad.decode_steps(*inputs)
    assert len(latencies) == ad.GEN and min(latencies) > 0
