"""Generation evaluation by text overlap: sentence BLEU-4 and ROUGE-L F1 of each generated
token sequence against its reference, as evaluation suites score summaries and translations.

BLEU is sentence-level (Papineni et al. 2002): clipped n-gram precisions for n = 1..4, equal
weights, the standard brevity penalty, and smoothing method 1 of Chen and Cherry (2014): a
precision with no matches counts 0.1 matches (a pair with no unigram match scores 0, as in
NLTK). ROUGE-L is the F1 of the longest common subsequence (Lin 2004; beta = 1, as in Google's
rouge-score). The kernel counts unigrams in a small open-addressing hash table keyed by
token id (any int32 ids, no vocabulary limit); the slot a reference token lands in becomes its
dense id, and a k-gram's key packs its tokens' ids, so higher orders compare one integer, and
only k-grams whose (k-1)-grams occur on the other side are hashed at all. The LCS length comes
from the bit-parallel form of the LCS dynamic programme (Hyyro 2004): a DP row is a bit vector
over the reference, updated a 64-bit word at a time: exact, and ~64x fewer operations than
the cell-by-cell DP the plain Python reference runs.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TypeAlias

import numba
import numpy as np
from numpy.typing import NDArray

from harness.workload import Workload

MAX_N = 4
EPSILON = 0.1  # smoothing method 1: the match count given to an n-gram order with none
VOCAB = 32_000
MIN_LEN, MAX_LEN = 20, 200
CHUNK = 16  # pairs per parallel task: scratch tables are allocated once per chunk
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
SALT = np.uint64(0xBF58476D1CE4E5B9)

# The open-addressing table _pairs builds: keys, match counts, seen flags, generation stamps,
# and the shift that maps a hashed key to a slot (64 - log2 of the size).
Table: TypeAlias = tuple[
    NDArray[np.uint64], NDArray[np.int32], NDArray[np.uint8], NDArray[np.int64], np.uint64
]


@numba.njit(cache=True, inline="always")
def _probe(
    key: np.uint64, keys: np.ndarray, stamp: np.ndarray, gen: int, shift: np.uint64
) -> np.int64:
    """Slot holding key in the current generation's table, or the empty slot to put it in.
    A slot is in use when its stamp is the generation: tables are never cleared."""
    mask = keys.size - 1
    slot = np.int64(((key ^ SALT) * GOLDEN) >> shift)
    while stamp[slot] == gen and keys[slot] != key:
        slot = (slot + 1) & mask
    return slot


@numba.njit(cache=True, inline="always")
def _claim(slot: np.int64, key: np.uint64, tab: Table, gen: int) -> None:
    keys, cnt, seen, stamp, _ = tab
    keys[slot], cnt[slot], seen[slot], stamp[slot] = key, 0, 0, gen


@numba.njit(cache=True)
def _unigrams(
    hyp: NDArray[np.int32],
    ref: NDArray[np.int32],
    tab: Table,
    gen: int,
    hslot: NDArray[np.int32],
    rslot: NDArray[np.int32],
    halive: NDArray[np.bool_],
    ralive: NDArray[np.bool_],
    masks: NDArray[np.uint64],
) -> int:
    """Clipped unigram matches, keyed by token id. Also: each token's slot (a dense id of the
    reference's vocabulary), the reference's match masks for the LCS, and which tokens of
    each side occur on the other (the seeds of the n-gram pruning)."""
    keys, cnt, seen, stamp, shift = tab
    for j in range(ref.size):
        key = np.uint64(np.int64(ref[j]))
        slot = _probe(key, keys, stamp, gen, shift)
        if stamp[slot] != gen:
            _claim(slot, key, tab, gen)
            masks[slot, :] = 0
        cnt[slot] += 1
        masks[slot, j >> 6] |= np.uint64(1) << np.uint64(j & 63)
        rslot[j] = slot
    found = 0
    for i in range(hyp.size):
        slot = _probe(np.uint64(np.int64(hyp[i])), keys, stamp, gen, shift)
        halive[i] = stamp[slot] == gen
        hslot[i] = slot if halive[i] else -1
        if halive[i]:
            seen[slot] = 1
            if cnt[slot] > 0:
                cnt[slot] -= 1
                found += 1
    for j in range(ref.size):
        ralive[j] = seen[rslot[j]] > 0
    return found


@numba.njit(cache=True)
def _ngrams(
    k: int,
    c: int,
    r: int,
    tab: Table,
    gen: int,
    bits: np.uint64,
    hkey: NDArray[np.uint64],
    rkey: NDArray[np.uint64],
    hslot: NDArray[np.int32],
    rslot: NDArray[np.int32],
    hs: NDArray[np.int32],
    halive: NDArray[np.bool_],
    ralive: NDArray[np.bool_],
) -> int:
    """Clipped k-gram matches (k >= 2). A k-gram's key packs its tokens' unigram slots, bits
    each: exact, so no token compares. Only k-grams whose two (k-1)-grams occur on the other
    side can match; only those are hashed (the generation's k-grams go into the table)."""
    keys, cnt, seen, stamp, shift = tab
    for i in range(c - k + 1):
        hkey[i] = (hkey[i] << bits) | np.uint64(hslot[i + k - 1])  # -1 only where not alive
        hs[i] = -1
        if halive[i] and halive[i + 1]:
            slot = _probe(hkey[i], keys, stamp, gen, shift)
            if stamp[slot] != gen:
                _claim(slot, hkey[i], tab, gen)
            cnt[slot] += 1
            hs[i] = slot
    found = 0
    for j in range(r - k + 1):
        rkey[j] = (rkey[j] << bits) | np.uint64(rslot[j + k - 1])
        hit = False
        if ralive[j] and ralive[j + 1]:
            slot = _probe(rkey[j], keys, stamp, gen, shift)
            if stamp[slot] == gen:
                hit = True
                seen[slot] = 1
                if cnt[slot] > 0:
                    cnt[slot] -= 1
                    found += 1
        ralive[j] = hit  # j + 1 is read before it is overwritten
    for i in range(c - k + 1):
        halive[i] = hs[i] >= 0 and seen[hs[i]] > 0
    return found


@numba.njit(cache=True)
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@numba.njit(cache=True)
def _lcs(
    hslot: NDArray[np.int32], c: int, m: int, masks: NDArray[np.uint64], v: NDArray[np.uint64]
) -> int:
    """LCS length, bit-parallel: V' = (V + (V & M)) | (V & ~M) over the reference's bits."""
    words = (m + 63) >> 6
    v[:words] = ~np.uint64(0)
    for i in range(c):
        s = hslot[i]
        if s < 0:
            continue  # M = 0 leaves V unchanged
        carry = np.uint64(0)
        for w in range(words):
            x, mm = v[w], masks[s, w]
            t = x + (x & mm)
            t2 = t + carry
            carry = np.uint64((t < x) | (t2 < t))
            v[w] = t2 | (x & ~mm)
    zeros = 0
    for w in range(words):
        bits = min(64, m - 64 * w)
        valid = ~np.uint64(0) if bits == 64 else (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
        zeros += _popcount(~v[w] & valid)
    return zeros


@numba.njit(cache=True)
def _bleu(found: np.ndarray, c: int, r: int) -> float:
    if c == 0 or found[0] == 0:
        return 0.0
    log_sum = 0.0
    for k in range(MAX_N):
        denom = max(1, c - k)
        p = found[k] / denom if found[k] > 0 else EPSILON / denom
        log_sum += math.log(p) / MAX_N
    bp = 1.0 if c > r else math.exp(1.0 - r / c)
    return bp * math.exp(log_sum)


@numba.njit(cache=True)
def _rouge(lcs: int, c: int, r: int) -> float:
    if lcs == 0:
        return 0.0
    precision, recall = lcs / c, lcs / r
    return 2.0 * precision * recall / (precision + recall)


@numba.njit(cache=True)
def _pairs(
    lo: int,
    hi: int,
    hyp_tok: NDArray[np.int32],
    hyp_off: NDArray[np.int64],
    ref_tok: NDArray[np.int32],
    ref_off: NDArray[np.int64],
    bleu: NDArray[np.float64],
    rouge: NDArray[np.float64],
    lcs: NDArray[np.int64],
) -> None:
    """Score pairs lo..hi-1 with one set of scratch tables."""
    max_r = max_c = 1
    for p in range(lo, hi):
        max_r = max(max_r, ref_off[p + 1] - ref_off[p])
        max_c = max(max_c, hyp_off[p + 1] - hyp_off[p])
    bits = 1
    while (1 << bits) < 2 * max(max_r, max_c):  # load factor at most 1/2
        bits += 1
    if bits * MAX_N > 64:
        raise ValueError("sequences over 32768 tokens: n-gram keys would not fit 64 bits")
    size, words = 1 << bits, (max_r + 63) >> 6
    tab = (np.empty(size, np.uint64), np.empty(size, np.int32), np.empty(size, np.uint8),
           np.full(size, -1, np.int64), np.uint64(64 - bits))  # fmt: skip
    masks, v = np.empty((size, words), np.uint64), np.empty(words, np.uint64)
    hslot, hs, rslot = (
        np.empty(max_c, np.int32),
        np.empty(max_c, np.int32),
        np.empty(max_r, np.int32),
    )
    hkey, rkey = np.empty(max_c, np.uint64), np.empty(max_r, np.uint64)
    halive, ralive = np.empty(max_c, np.bool_), np.empty(max_r, np.bool_)
    found = np.empty(MAX_N, np.int64)
    for p in range(lo, hi):
        hyp, ref = hyp_tok[hyp_off[p] : hyp_off[p + 1]], ref_tok[ref_off[p] : ref_off[p + 1]]
        c, r, gen = hyp.size, ref.size, (p - lo) * MAX_N
        found[0] = _unigrams(hyp, ref, tab, gen, hslot, rslot, halive, ralive, masks)
        lcs[p] = _lcs(hslot, c, r, masks, v) if r > 0 else 0
        for i in range(c):
            hkey[i] = np.uint64(hslot[i])
        for j in range(r):
            rkey[j] = np.uint64(rslot[j])
        for k in range(2, MAX_N + 1):
            found[k - 1] = _ngrams(k, c, r, tab, gen + k - 1, np.uint64(bits), hkey, rkey,
                                   hslot, rslot, hs, halive, ralive)  # fmt: skip
        bleu[p] = _bleu(found, c, r)
        rouge[p] = _rouge(lcs[p], c, r)


@numba.njit(cache=True)
def overlap_speed(
    hyp_tok: NDArray[np.int32],
    hyp_off: NDArray[np.int64],
    ref_tok: NDArray[np.int32],
    ref_off: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    n = hyp_off.size - 1
    bleu, rouge, lcs = np.empty(n), np.empty(n), np.empty(n, np.int64)
    _pairs(0, n, hyp_tok, hyp_off, ref_tok, ref_off, bleu, rouge, lcs)
    return bleu, rouge, lcs


@numba.njit(cache=True, parallel=True)
def overlap_rate(
    hyp_tok: NDArray[np.int32],
    hyp_off: NDArray[np.int64],
    ref_tok: NDArray[np.int32],
    ref_off: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    n = hyp_off.size - 1
    bleu, rouge, lcs = np.empty(n), np.empty(n), np.empty(n, np.int64)
    for chunk in numba.prange((n + CHUNK - 1) // CHUNK):
        lo = chunk * CHUNK
        _pairs(lo, min(n, lo + CHUNK), hyp_tok, hyp_off, ref_tok, ref_off, bleu, rouge, lcs)
    return bleu, rouge, lcs


def _counts(seq: list[int], k: int) -> Counter[tuple[int, ...]]:
    return Counter(tuple(seq[i : i + k]) for i in range(len(seq) - k + 1))


def _lcs_dp(a: list[int], b: list[int]) -> int:
    """The textbook LCS dynamic programme, one row at a time."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            if x == y:
                cur.append(prev[j] + 1)
            else:
                cur.append(cur[j] if cur[j] > prev[j + 1] else prev[j + 1])
        prev = cur
    return prev[-1]


def _split(tok: np.ndarray, off: np.ndarray) -> list[np.ndarray]:
    return [tok[off[p] : off[p + 1]] for p in range(off.size - 1)]


def _scores(found: list[int], c: int, r: int, lcs: int) -> tuple[float, float]:
    return _bleu.py_func(found, c, r), _rouge.py_func(lcs, c, r)


def overlap_reference(
    hyp_tok: NDArray[np.int32],
    hyp_off: NDArray[np.int64],
    ref_tok: NDArray[np.int32],
    ref_off: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Plain Python: Counter intersections for the clipped counts, the DP for the LCS."""
    out = []
    for hyp, ref in zip(_split(hyp_tok, hyp_off), _split(ref_tok, ref_off), strict=True):
        h, r = hyp.tolist(), ref.tolist()
        found = [sum((_counts(h, k) & _counts(r, k)).values()) for k in range(1, MAX_N + 1)]
        common = _lcs_dp(h, r)
        out.append((*_scores(found, len(h), len(r), common), common))
    bleu, rouge, lcs = zip(*out, strict=True) if out else ((), (), ())
    return np.array(bleu, np.float64), np.array(rouge, np.float64), np.array(lcs, np.int64)


def _gram_keys(seq: np.ndarray, k: int) -> np.ndarray:
    """k-grams packed 16 bits a token into one uint64 (ids below 2**16, as VOCAB is)."""
    keys = np.zeros(max(0, seq.size - k + 1), np.uint64)
    for t in range(k):
        keys |= seq[t : seq.size - k + 1 + t].astype(np.uint64) << np.uint64(16 * t)
    return keys


def _np_found(hyp: np.ndarray, ref: np.ndarray, k: int) -> int:
    hu, hc = np.unique(_gram_keys(hyp, k), return_counts=True)
    ru, rc = np.unique(_gram_keys(ref, k), return_counts=True)
    _, hi, ri = np.intersect1d(hu, ru, assume_unique=True, return_indices=True)
    return int(np.minimum(hc[hi], rc[ri]).sum())


def _np_lcs(hyp: np.ndarray, ref: np.ndarray) -> int:
    """Row-vectorised DP: cur[j] = max(prev[j-1] + 1 if match else prev[j], cur[j-1])."""
    prev = np.zeros(ref.size + 1, np.int64)
    for x in hyp:
        cur = np.zeros_like(prev)
        cur[1:] = np.maximum.accumulate(np.where(ref == x, prev[:-1] + 1, prev[1:]))
        prev = cur
    return int(prev[-1])


def overlap_baseline(
    hyp_tok: NDArray[np.int32],
    hyp_off: NDArray[np.int64],
    ref_tok: NDArray[np.int32],
    ref_off: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """What a NumPy user writes: np.unique n-gram counts, a row-vectorised LCS DP per pair."""
    n = hyp_off.size - 1
    bleu, rouge, lcs = np.empty(n), np.empty(n), np.empty(n, np.int64)
    pairs = zip(_split(hyp_tok, hyp_off), _split(ref_tok, ref_off), strict=True)
    for p, (hyp, ref) in enumerate(pairs):
        found = [_np_found(hyp, ref, k) for k in range(1, MAX_N + 1)]
        lcs[p] = _np_lcs(hyp, ref)
        bleu[p], rouge[p] = _scores(found, hyp.size, ref.size, int(lcs[p]))
    return bleu, rouge, lcs


def make_inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """References of 20-200 Zipf-like tokens; generations are edited copies (keep 60%,
    substitute 15%, delete 10%, keep and insert one 15%), so BLEU lands near 0.3-0.5."""
    ref_len = rng.integers(MIN_LEN, MAX_LEN + 1, n)
    ref_off = np.zeros(n + 1, np.int64)
    np.cumsum(ref_len, out=ref_off[1:])
    total = int(ref_off[-1])
    ref_tok = (VOCAB * rng.random(total) ** 3).astype(np.int32)  # frequent low ids repeat
    op = rng.random(total)
    edited = np.where((op >= 0.6) & (op < 0.75), rng.integers(0, VOCAB, total), ref_tok)
    copies = np.where(op < 0.75, 1, np.where(op < 0.85, 0, 2))
    hyp_tok = np.repeat(edited, copies).astype(np.int32)
    ends = np.cumsum(copies)
    inserted = ends[copies == 2] - 1  # the second copy of each kept-and-inserted token
    hyp_tok[inserted] = rng.integers(0, VOCAB, inserted.size)
    hyp_off = np.zeros(n + 1, np.int64)
    hyp_off[1:] = np.concatenate(([0], ends))[ref_off[1:]]
    return hyp_tok, hyp_off, ref_tok, ref_off


MEAN_TOKENS = 110 * (1 + 1.05)  # a reference's mean length, and its generation's


WORKLOAD = Workload(
    name="text_overlap",
    category="evaluate",
    description="sentence BLEU-4 (smoothing 1) and ROUGE-L F1 of token-id sequences",
    unit="pairs",
    bound="integer",  # n-gram matching and the bit-parallel LCS: integer work
    sizes={"tiny": 8, "small": 512, "default": 4096, "large": 32768},
    work=lambda n: float(n),
    # token ids read once (then from cache), offsets, three outputs
    bytes=lambda n: n * (4.0 * MEAN_TOKENS + 16.0 + 24.0),
    # nominal: the final scores' logs, exps and divisions; the n-gram and LCS work is integer
    flops=lambda n: 30.0 * n,
    make_inputs=make_inputs,
    speed=overlap_speed,
    rate=overlap_rate,
    reference=overlap_reference,
    baseline=overlap_baseline,
    # same formulas in the same order; libm log/exp may differ by an ulp across builds
    rtol=1e-12,
    atol=1e-15,
)
