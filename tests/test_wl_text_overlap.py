"""text_overlap: BLEU-4 and ROUGE-L on hand-made pairs, and the bit-parallel LCS against the DP."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workloads import text_overlap as wl


def pack(pairs: list[tuple[list[int], list[int]]]) -> tuple[np.ndarray, ...]:
    """Concatenate (generation, reference) pairs into the workload's token/offset arrays."""
    hyps, refs = (
        [np.asarray(h, np.int32) for h, _ in pairs],
        [np.asarray(r, np.int32) for _, r in pairs],
    )

    def offsets(seqs: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(([0], np.cumsum([s.size for s in seqs]))).astype(np.int64)

    cat = lambda seqs: np.concatenate(seqs).astype(np.int32)  # noqa: E731
    return cat(hyps), offsets(hyps), cat(refs), offsets(refs)


@pytest.mark.parametrize("kernel", [wl.overlap_speed, wl.overlap_rate])
def test_identical_sequences_score_one(kernel) -> None:  # type: ignore[no-untyped-def]
    """A generation equal to its reference has BLEU 1, ROUGE-L 1 and LCS its length."""
    seq = list(range(100, 150))
    bleu, rouge, lcs = kernel(*pack([(seq, seq)]))
    assert bleu[0] == pytest.approx(1.0, abs=1e-15) and rouge[0] == 1.0 and lcs[0] == 50


def test_disjoint_sequences_score_zero() -> None:
    """No shared token: no unigram match, so BLEU, ROUGE-L and the LCS are all zero."""
    bleu, rouge, lcs = wl.overlap_speed(*pack([([1, 2, 3, 4, 5], [6, 7, 8, 9])]))
    assert (bleu[0], rouge[0], lcs[0]) == (0.0, 0.0, 0)


def test_clipped_counts_and_smoothing_give_the_textbook_bleu() -> None:
    """Papineni's "the the the ..." example: unigram precision clipped to 2/7, and the empty
    higher orders count 0.1 matches each (smoothing method 1)."""
    the, cat, is_, on, mat = 1, 2, 3, 4, 5
    hyp, ref = [the] * 7, [the, cat, is_, on, the, mat]
    bleu, rouge, lcs = wl.overlap_speed(*pack([(hyp, ref)]))
    logs = [math.log(2 / 7), math.log(0.1 / 6), math.log(0.1 / 5), math.log(0.1 / 4)]
    assert bleu[0] == pytest.approx(math.exp(sum(logs) / 4), rel=1e-14)
    assert lcs[0] == 2 and rouge[0] == pytest.approx(2 * (2 / 7) * (2 / 6) / (2 / 7 + 2 / 6))


def test_short_generation_pays_the_brevity_penalty() -> None:
    """A generation that is an exact prefix of half the reference is scaled by exp(1 - r/c)."""
    ref = list(range(40))
    bleu, _, lcs = wl.overlap_speed(*pack([(ref[:20], ref)]))
    assert lcs[0] == 20 and bleu[0] == pytest.approx(math.exp(1 - 40 / 20), rel=1e-14)


def test_bit_parallel_lcs_equals_the_dp_across_word_boundaries() -> None:
    """Random pairs over tiny alphabets (long LCS, many repeats) up to 300 tokens, empty ones
    included, agree with the plain Python DP and Counter reference exactly."""
    rng = np.random.default_rng(3)
    pairs = []
    for _ in range(60):
        vocab = int(rng.integers(1, 6))
        c, r = rng.integers(0, 300, 2)
        pairs.append((rng.integers(0, vocab, c).tolist(), rng.integers(0, vocab, r).tolist()))
    inputs = pack(pairs)
    got, want = wl.overlap_speed(*inputs), wl.overlap_reference(*inputs)
    assert np.array_equal(got[2], want[2])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_any_int32_token_ids_are_counted_exactly() -> None:
    """Ids beyond 16 bits (large vocabularies, negative sentinels) hash and compare exactly."""
    big = [2**31 - 1, -5, 2**20 + 7, 123_456_789, 2**31 - 1, -5]
    hyp, ref = [*big, 9, 9], [9, *big]
    inputs = pack([(hyp, ref)])
    got, want = wl.overlap_speed(*inputs), wl.overlap_reference(*inputs)
    assert got[2][0] == want[2][0] == 6
    assert got[0][0] == pytest.approx(want[0][0], rel=1e-14)


def test_rate_form_matches_speed_form_bitwise() -> None:
    """Parallel chunks of pairs give the same bytes as the single stream."""
    inputs = wl.make_inputs(300, np.random.default_rng(5))
    for a, b in zip(wl.overlap_speed(*inputs), wl.overlap_rate(*inputs), strict=True):
        assert np.array_equal(a, b)


def test_generated_pairs_have_realistic_overlap() -> None:
    """The edited copies score in a plausible range: neither copies nor unrelated text."""
    bleu, rouge, _ = wl.overlap_speed(*wl.make_inputs(200, np.random.default_rng(0)))
    assert 0.2 < bleu.mean() < 0.7 and 0.5 < rouge.mean() < 0.9
