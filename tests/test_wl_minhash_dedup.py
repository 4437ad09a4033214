"""minhash_dedup: signatures estimate Jaccard similarity and LSH pairs up near-duplicates."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from workloads import minhash_dedup as mh

KERNELS = [mh.minhash_speed, mh.minhash_rate, mh.minhash_reference]


def _corpus(docs: list[bytes], seed: int = 0) -> tuple[np.ndarray, ...]:
    data = np.frombuffer(b"".join(docs), dtype=np.uint8).copy()
    offsets = np.concatenate(([0], np.cumsum([len(d) for d in docs]))).astype(np.int64)
    _, _, a, b = mh.make_inputs(1, np.random.default_rng(seed))
    return data, offsets, a, b


def _text(rng: np.random.Generator, words: int) -> list[bytes]:
    return [
        bytes(rng.integers(97, 123, size=int(rng.integers(2, 9))).tolist()) for _ in range(words)
    ]


def _shingles(doc: bytes) -> set[bytes]:
    return {doc[i : i + mh.SHINGLE] for i in range(len(doc) - mh.SHINGLE + 1)}


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_lsh_pairs_up_an_inserted_near_duplicate_and_nothing_else(kernel) -> None:  # type: ignore[no-untyped-def]
    """Among unrelated documents, exactly the edited copy is paired with its original."""
    rng = np.random.default_rng(1)
    docs = [_text(rng, 200) for _ in range(20)]
    copy = list(docs[3])
    copy[50] = b"edited"
    del copy[120]
    docs.insert(12, copy)
    _, _, pairs = kernel(*_corpus([b" ".join(d) for d in docs]))
    assert pairs.tolist() == [[3, 12]]


def test_signature_agreement_estimates_jaccard_similarity() -> None:
    """The share of equal signature entries is within sampling error of the true Jaccard."""
    rng = np.random.default_rng(2)
    words = _text(rng, 300)
    first, second = b" ".join(words[:200]), b" ".join(words[100:])
    sig, _, _ = mh.minhash_speed(*_corpus([first, second]))
    truth = len(_shingles(first) & _shingles(second)) / len(_shingles(first) | _shingles(second))
    assert abs(np.mean(sig[0] == sig[1]) - truth) < 4 * np.sqrt(truth * (1 - truth) / mh.K)


def test_identical_documents_share_signatures_and_band_hashes() -> None:
    """Copies hash alike in every band; a document too short for a shingle gets all-ones."""
    rng = np.random.default_rng(3)
    doc = b" ".join(_text(rng, 50))
    sig, bands, pairs = mh.minhash_rate(*_corpus([doc, b"abc", doc]))
    assert (sig[0] == sig[2]).all() and (bands[0] == bands[2]).all()
    assert (sig[1] == mh.EMPTY).all()
    assert pairs.tolist() == [[0, 2]]


def test_generated_near_duplicates_are_paired_and_unrelated_documents_are_not() -> None:
    """make_inputs' edited copies come out as pairs; every pair is a true near-duplicate."""
    data, offsets, a, b = mh.make_inputs(200, np.random.default_rng(4))
    _, _, pairs = mh.minhash_rate(data, offsets, a, b)
    docs = [_shingles(data[lo:hi].tobytes()) for lo, hi in itertools.pairwise(offsets)]
    jaccard = [len(docs[i] & docs[j]) / len(docs[i] | docs[j]) for i, j in pairs]
    assert len(pairs) >= 0.15 * 200
    assert min(jaccard) > 0.5
