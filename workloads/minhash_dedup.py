"""Near-duplicate detection as LLM data pipelines run it: MinHash signatures over character
5-gram shingles, LSH banding, candidate pairs.

Each shingle (5 bytes read as a little-endian integer) is hashed with the murmur3 64-bit
finalizer; the K = 128 permutations are multiply-shift hashes ``(a_k * h + b_k) mod 2^64 >> 32``
(``a_k`` odd: the universal family of Dietzfelbinger et al., the 64-bit-arithmetic cousin of
datasketch's ``(a*h + b) mod p``), and a document's signature keeps the minimum of each over
its shingles. 32 bands of 4 rows are hashed to 64 bits; documents sharing a band hash in any
band are candidate pairs (Jaccard 0.5 is caught with probability 0.87, 0.8 with 1 - 5e-8).

Inputs: documents of Zipf words, a fifth of them near-duplicates of earlier ones (3% of their
words replaced, 2% dropped). Outputs: signatures (uint32), band hashes (uint64) and the
candidate pairs (int64 rows ``(i, j)``, ``i < j``, ordered by j then i: for each document, the
earlier ones it may duplicate), all exact.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from harness.workload import Workload

K = 128  # permutations
BANDS = 32
ROWS = K // BANDS
SHINGLE = 5
VOCAB = 50_000  # distinct words
ZIPF_SHIFT = 100.0  # p(rank r) ~ 1 / (r + 100): common words, but no word in every shingle set
DOC_WORDS = (50, 400)  # words per document, uniform
DUP_SHARE = 0.2  # documents that are edited copies of an earlier one
EDIT_REPLACE, EDIT_DROP = 0.03, 0.02
M1 = np.uint64(0xFF51AFD7ED558CCD)
M2 = np.uint64(0xC4CEB9FE1A85EC53)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
EMPTY = np.uint32(0xFFFFFFFF)
DOC_BYTES = 1550.0  # mean text bytes per document (measured), for bytes(n) and flops(n)


@numba.njit(cache=True, inline="always")
def _fmix(h: np.uint64) -> np.uint64:
    """murmur3's 64-bit finalizer: every input bit flips each output bit with odds near 1/2."""
    h ^= h >> np.uint64(33)
    h *= M1
    h ^= h >> np.uint64(33)
    h *= M2
    h ^= h >> np.uint64(33)
    return h


@numba.njit(cache=True)
def _signature(
    data: np.ndarray, lo: int, hi: int, a: np.ndarray, b: np.ndarray, sig: np.ndarray
) -> None:
    """Min over the document's shingles of each of the K permutation hashes.

    The shingle hashes go to a buffer first (12 KB: L1), then each permutation is a min
    reduction over it, 8 lanes wide; looping permutations inside shingles instead keeps 128
    running minima in memory and ran 2.8x slower.
    """
    count = hi - lo - SHINGLE + 1
    if count <= 0:
        sig[:] = EMPTY
        return
    hashes = np.empty(count, dtype=np.uint64)
    for i in range(count):
        x = np.uint64(0)
        for j in range(SHINGLE):
            x |= np.uint64(data[lo + i + j]) << np.uint64(8 * j)
        hashes[i] = _fmix(x)
    for k in range(K):
        ak, bk = a[k], b[k]
        low = np.uint64(0xFFFFFFFFFFFFFFFF)
        for i in range(count):
            low = min(low, ak * hashes[i] + bk)
        sig[k] = np.uint32(low >> np.uint64(32))


@numba.njit(cache=True)
def _bands(sig: np.ndarray, out: np.ndarray) -> None:
    """One 64-bit hash per band of ROWS signature values."""
    for j in range(BANDS):
        h = np.uint64(j + 1) * GOLDEN
        for r in range(ROWS):
            h = _fmix(h ^ np.uint64(sig[j * ROWS + r]))
        out[j] = h


@numba.njit(cache=True)
def _link_band(bands: np.ndarray, j: int, prev: np.ndarray) -> None:
    """``prev[d, j]``: the latest earlier document with d's band-j hash (-1: none), found
    through an open-addressing table of the hashes (already mixed: their low bits index)."""
    n = bands.shape[0]
    size = 16
    while size < 2 * n:
        size *= 2
    keys = np.zeros(size, dtype=np.uint64)
    last = np.full(size, -1, dtype=np.int64)
    for d in range(n):
        key = bands[d, j]
        slot = np.int64(key & np.uint64(size - 1))
        while last[slot] >= 0 and keys[slot] != key:
            slot = (slot + 1) & (size - 1)
        prev[d, j] = last[slot]
        keys[slot] = key
        last[slot] = d


@numba.njit(cache=True)
def _partners(prev: np.ndarray, d: int, pairs: np.ndarray, end: int) -> int:
    """The earlier documents sharing any band hash with d, each once: a merge of the 32 band
    chains, each descending. With ``end >= 0`` writes them ascending as rows ``(i, d)`` ending
    at ``pairs[end - 1]``; returns how many there are."""
    heads = prev[d].copy()
    count = 0
    while True:
        top = -1
        for b in range(BANDS):
            top = max(top, heads[b])
        if top < 0:
            return count
        count += 1
        if end >= 0:
            pairs[end - count, 0] = top
            pairs[end - count, 1] = d
        for b in range(BANDS):
            if heads[b] == top:
                heads[b] = prev[top, b]


@numba.njit(cache=True)
def _starts(counts: np.ndarray) -> np.ndarray:
    starts = np.zeros(counts.size + 1, dtype=np.int64)
    for d in range(counts.size):
        starts[d + 1] = starts[d] + counts[d]
    return starts


@numba.njit(cache=True)
def _pairs(prev: np.ndarray) -> np.ndarray:
    """Candidate pairs ``(i, j)``, ``i < j``, ordered by j then i, from the band chains
    (a few operations per pair: serial in both forms, one parallel region fewer)."""
    n = prev.shape[0]
    counts = np.empty(n, dtype=np.int64)
    nowhere = np.empty((0, 2), dtype=np.int64)
    for d in range(n):
        counts[d] = _partners(prev, d, nowhere, -1)
    starts = _starts(counts)
    pairs = np.empty((starts[-1], 2), dtype=np.int64)
    for d in range(n):
        _partners(prev, d, pairs, starts[d + 1])
    return pairs


@numba.njit(cache=True)
def _candidates(bands: np.ndarray) -> np.ndarray:
    prev = np.empty((bands.shape[0], BANDS), dtype=np.int64)
    for j in range(BANDS):
        _link_band(bands, j, prev)
    # A typed name, as mypy sees any Numba call as Any.
    pairs: np.ndarray = _pairs(prev)
    return pairs


@numba.njit(cache=True, parallel=True)
def _candidates_parallel(bands: np.ndarray) -> np.ndarray:
    prev = np.empty((bands.shape[0], BANDS), dtype=np.int64)
    for j in numba.prange(BANDS):
        _link_band(bands, j, prev)
    # A typed name, as mypy sees any Numba call as Any.
    pairs: np.ndarray = _pairs(prev)
    return pairs


@numba.njit(cache=True)
def minhash_speed(
    data: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = offsets.size - 1
    sig = np.empty((n, K), dtype=np.uint32)
    bands = np.empty((n, BANDS), dtype=np.uint64)
    for d in range(n):
        _signature(data, offsets[d], offsets[d + 1], a, b, sig[d])
        _bands(sig[d], bands[d])
    return sig, bands, _candidates(bands)


@numba.njit(cache=True, parallel=True)
def minhash_rate(
    data: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = offsets.size - 1
    sig = np.empty((n, K), dtype=np.uint32)
    bands = np.empty((n, BANDS), dtype=np.uint64)
    for d in numba.prange(n):
        _signature(data, offsets[d], offsets[d + 1], a, b, sig[d])
        _bands(sig[d], bands[d])
    return sig, bands, _candidates_parallel(bands)


def _fmix_np(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * M1
    h = h ^ (h >> np.uint64(33))
    h = h * M2
    h = h ^ (h >> np.uint64(33))
    return h


def signature_np(
    doc: NDArray[np.uint8], a: NDArray[np.uint64], b: NDArray[np.uint64]
) -> NDArray[np.uint32]:
    """datasketch's way: hash all shingles, then an (S, K) matrix of permutations, min."""
    if doc.size < SHINGLE:
        return np.full(K, EMPTY, dtype=np.uint32)
    windows = np.lib.stride_tricks.sliding_window_view(doc.astype(np.uint64), SHINGLE)
    shifts = np.arange(SHINGLE, dtype=np.uint64) * np.uint64(8)
    h = _fmix_np(np.bitwise_or.reduce(windows << shifts, axis=1))
    low: NDArray[np.uint64] = (h[:, None] * a + b).min(axis=0)
    return (low >> np.uint64(32)).astype(np.uint32)


def minhash_reference(
    data: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorized per document, banded for all at once, bucketed with a dict."""
    n = offsets.size - 1
    sig = np.stack([signature_np(data[offsets[d] : offsets[d + 1]], a, b) for d in range(n)])
    sig = sig.reshape(n, K)
    h = np.broadcast_to(np.arange(1, BANDS + 1, dtype=np.uint64) * GOLDEN, (n, BANDS))
    for r in range(ROWS):
        h = _fmix_np(h ^ sig[:, r::ROWS].astype(np.uint64))
    found: set[tuple[int, int]] = set()
    for j in range(BANDS):
        buckets: dict[int, list[int]] = {}
        for d, key in enumerate(h[:, j].tolist()):
            buckets.setdefault(key, []).append(d)
        for docs in buckets.values():
            found.update((p, q) for i, p in enumerate(docs) for q in docs[i + 1 :])
    pairs = np.array(sorted(found, key=lambda p: (p[1], p[0])), dtype=np.int64).reshape(-1, 2)
    return sig, h, pairs


def _words(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A vocabulary of random lowercase words, each with its leading space, as flat bytes."""
    sizes = 2 + np.minimum(rng.poisson(4.0, VOCAB), 12)
    letters = (97 + rng.integers(0, 26, int(sizes.sum()))).astype(np.uint8)
    starts = np.concatenate(([0], np.cumsum(sizes)))
    flat = np.insert(letters, starts[:-1], 32)  # a space before each word
    return flat, starts + np.arange(VOCAB + 1)


def _render(ids: np.ndarray, flat: NDArray[np.uint8], starts: np.ndarray) -> NDArray[np.uint8]:
    """The bytes of a word sequence, without a Python loop."""
    lens = starts[1:][ids] - starts[:-1][ids]
    ends = np.cumsum(lens)
    within = np.arange(int(ends[-1])) - np.repeat(ends - lens, lens)
    data: NDArray[np.uint8] = flat[np.repeat(starts[:-1][ids], lens) + within]
    return data


def _edit(words: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A near-duplicate: a few words replaced, a few dropped."""
    copy = words.copy()
    swap = rng.random(copy.size) < EDIT_REPLACE
    copy[swap] = rng.integers(0, VOCAB, int(swap.sum()))
    return copy[rng.random(copy.size) >= EDIT_DROP]


def make_inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """``n`` documents (bytes and offsets) and the K multiply-shift parameters."""
    flat, starts = _words(rng)
    cdf = np.cumsum(1.0 / (np.arange(VOCAB) + ZIPF_SHIFT))
    docs: list[np.ndarray] = []
    for d in range(n):
        if d > 0 and rng.random() < DUP_SHARE:
            docs.append(_edit(docs[int(rng.integers(0, d))], rng))
        else:
            size = int(rng.integers(*DOC_WORDS))
            ranks = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
            docs.append(np.minimum(ranks, VOCAB - 1))
    lengths = [int((starts[1:][w] - starts[:-1][w]).sum()) for w in docs]
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    data = _render(np.concatenate(docs), flat, starts)
    a = rng.integers(0, 2**63, K, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, K, dtype=np.uint64) * np.uint64(2)
    return data, offsets, a, b


WORKLOAD = Workload(
    name="minhash_dedup",
    category="preprocess",
    description="MinHash (128 perms of 5-gram shingles) + LSH 32x4 bands, near-duplicate pairs",
    unit="documents",
    bound="integer",  # multiply-shift hashing and minima: no floating point
    sizes={"tiny": 48, "small": 1024, "default": 4096, "large": 16384},
    work=lambda n: float(n),
    # ~1550 text bytes per document in; signatures and band hashes out.
    bytes=lambda n: DOC_BYTES * n + 4.0 * K * n + 8.0 * BANDS * n,
    # Integer operations, not FLOPs: the multiply, add and min per shingle and hash.
    flops=lambda n: 3.0 * K * DOC_BYTES * n,
    make_inputs=make_inputs,
    speed=minhash_speed,
    rate=minhash_rate,
    reference=minhash_reference,
    rtol=0.0,  # hashes and document ids: exact
    atol=0.0,
)
