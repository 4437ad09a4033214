"""bpe_tokenize: merges learned as BPE defines them, encodings known by hand, text round-trips."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from workloads import bpe_tokenize as bpe

KERNELS = [bpe.bpe_speed, bpe.bpe_rate, bpe.bpe_reference]
A, B, C, SPACE, DOT = (ord(ch) for ch in "abc .")


def _encode(kernel, docs: list[bytes], merges: list[tuple[int, int]]) -> list[list[int]]:  # type: ignore[no-untyped-def]
    data = np.frombuffer(b"".join(docs), dtype=np.uint8).copy()
    offsets = np.concatenate(([0], np.cumsum([len(d) for d in docs]))).astype(np.int64)
    table = bpe.build_table(merges)
    tokens, starts = kernel(data, offsets, table, np.zeros(data.size, dtype=np.int32))
    return [tokens[lo:hi].tolist() for lo, hi in itertools.pairwise(starts)]


def _naive_merges(pieces: list[bytes], freqs: list[int], n: int) -> list[tuple[int, int]]:
    """BPE training by the book: recount every pair after every merge."""
    seqs = [list(p) for p in pieces]
    merges: list[tuple[int, int]] = []
    for _ in range(n):
        counts: Counter[tuple[int, int]] = Counter()
        for seq, f in zip(seqs, freqs, strict=True):
            for pair in itertools.pairwise(seq):
                counts[pair] += f
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        seqs = [bpe._merge_all(s, best, 255 + len(merges)) for s in seqs]
    return merges


def test_incremental_training_equals_recounting_every_merge() -> None:
    """The fast learner picks the same merges, in the same order, as a full recount."""
    rng = np.random.default_rng(5)
    words = [bytes(rng.integers(97, 101, size=rng.integers(1, 7)).tolist()) for _ in range(60)]
    pieces = list(dict.fromkeys(b" " + w for w in words))
    freqs = [int(f) for f in rng.integers(1, 50, size=len(pieces))]
    assert bpe.learn_merges(tuple(pieces), freqs, 80) == _naive_merges(pieces, freqs, 80)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_encodes_a_hand_worked_example(kernel) -> None:  # type: ignore[no-untyped-def]
    """Lowest rank first, leftmost on ties: " abc abab." gives the ids worked out by hand."""
    merges = [(A, B), (256, C), (SPACE, 256)]  # ab=256, abc=257, " ab"=258
    assert _encode(kernel, [b" abc abab."], merges) == [[SPACE, 257, 258, 256, DOT]]


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_merges_never_cross_a_piece_boundary(kernel) -> None:  # type: ignore[no-untyped-def]
    """A merge of "a" and " " exists, but the space starts the next piece, so it never fires."""
    merges = [(A, SPACE), (SPACE, SPACE)]
    assert _encode(kernel, [b"a a", b"  .a"], merges) == [[A, SPACE, A], [SPACE, SPACE, DOT, A]]


def test_documents_encode_to_exactly_n_tokens_and_decode_to_the_text() -> None:
    """make_inputs hits the token count exactly, and expanding the ids gives back every byte."""
    data, offsets, table, scratch = bpe.make_inputs(3000, np.random.default_rng(11))
    tokens, starts = bpe.bpe_rate(data, offsets, table, scratch)
    assert tokens.size == starts[-1] == 3000
    merges = sorted(bpe.table_ranks(table).items(), key=lambda item: item[1])
    spelled = [bytes([i]) for i in range(256)]
    for (a, b), _ in merges:
        spelled.append(spelled[a] + spelled[b])
    for d, (lo, hi) in enumerate(itertools.pairwise(starts)):
        text = b"".join(spelled[t] for t in tokens[lo:hi])
        assert text == data[offsets[d] : offsets[d + 1]].tobytes()


def test_table_holds_every_merge_in_its_dense_and_hashed_parts() -> None:
    """Every merge is in the cuckoo slots, byte pairs also in the dense block, nothing else."""
    merges = bpe.learn_merges(bpe._words(np.random.default_rng(3)), [1] * bpe.N_TYPES, 500)
    table = bpe.build_table(merges)
    assert bpe.table_ranks(table) == {pair: r for r, pair in enumerate(merges)}
    dense = {
        (i >> 8, i & 255): int(r) for i, r in enumerate(table[: bpe.DENSE]) if r != bpe.NO_RANK
    }
    assert dense == {pair: r for r, pair in enumerate(merges) if max(pair) < 256}


def test_table_falls_back_to_other_multipliers_when_cuckoo_insertion_cycles(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A cycle with the first multipliers is retried with others, and lookups still work."""
    real = bpe._cuckoo
    tries: list[tuple[int, int]] = []

    def first_fails(merges: list[tuple[int, int]], mul0: int, mul1: int):  # type: ignore[no-untyped-def]
        tries.append((mul0, mul1))
        if len(tries) == 1:
            raise ValueError("cycle")
        return real(merges, mul0, mul1)

    monkeypatch.setattr(bpe, "_cuckoo", first_fails)
    merges = [(A, B), (256, C), (SPACE, 256)]
    table = bpe.build_table(merges)
    assert len(tries) == 2 and tuple(table[bpe.DENSE : bpe.SLOTS]) == tries[1] != tries[0]
    data = np.frombuffer(b" abc abab.", dtype=np.uint8).copy()
    offsets = np.array([0, data.size], dtype=np.int64)
    tokens, _ = bpe.bpe_speed(data, offsets, table, np.zeros(data.size, dtype=np.int32))
    assert tokens.tolist() == [SPACE, 257, 258, 256, DOT]
