"""Byte-level BPE encoding, as GPT-2 and tiktoken tokenize text for training and inference.

The merge table is learned from a seeded synthetic corpus: a Zipf-distributed vocabulary of
words made of letters drawn with English frequencies, so frequent words become single tokens
and rare ones split into sub-words. Text is pre-split GPT-2 style into ``" ?[a-z]+"`` words,
single spaces and single other bytes; inside each piece the pair of adjacent tokens with the
lowest merge rank is merged, again and again, until no adjacent pair has a rank. Merged token
ids are ``256 + rank``.

The kernels look pairs up in a dense byte-pair matrix and a cuckoo hash table (384 KB together,
L2-resident) and merge one pair at a time, tiktoken's way; the reference is GPT-2's
``encoder.py`` way (merge every occurrence of the best pair, with a per-word cache), an
independent route to the same ids.
``n`` is the number of output tokens: ``make_inputs`` composes the text from words whose
encodings it knows, so the count is exact.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import re
from collections import defaultdict
from dataclasses import dataclass

import numba
import numpy as np

from harness.workload import Workload

N_TYPES = 4096  # distinct words in the synthetic language
N_MERGES = 3840  # a 4096-token vocabulary
TRAIN_WORDS = 2_000_000  # corpus size whose word counts train the merges
DOT_P = 1 / 12  # share of words that end a sentence with "."
DOC_WORDS = (64, 512)  # words per document, uniform
CUCKOO_BITS = 14  # 16384 slots for 3840 merges: load 0.23, 128 KB
DENSE = 1 << 16  # the byte-pair block; then the two hash multipliers; then the cuckoo slots
SLOTS = DENSE + 2
NO_RANK = np.int32(2**31 - 1)
BYTES_PER_TOKEN = 4.75  # mean over seeds 0-3 (4.66 to 4.91), for the bytes(n) estimate
# English letter frequencies (%), a to z.
LETTER_FREQ = np.array([8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.77, 4.0, 2.4,
                        6.7, 7.5, 1.9, 0.095, 6.0, 6.3, 9.1, 2.8, 0.98, 2.4, 0.15, 2.0,
                        0.074])  # fmt: skip
PIECE = re.compile(rb" ?[a-z]+| |[^a-z ]")


@dataclass(frozen=True)
class Language:
    """A seeded synthetic language: its words, their Zipf weights and the learned merges."""

    pieces: tuple[bytes, ...]  # each word with its leading space, as text carries it
    probs: np.ndarray
    table: np.ndarray  # int32: dense byte-pair ranks, then cuckoo (key, rank) slots
    tokens: np.ndarray  # tokens per piece under the merges


def _words(rng: np.random.Generator) -> tuple[bytes, ...]:
    """Distinct random words of 1 to 14 letters, letters with English frequencies."""
    letters = LETTER_FREQ / LETTER_FREQ.sum()
    seen: dict[bytes, None] = {}
    while len(seen) < N_TYPES:
        size = 1 + min(int(rng.poisson(4.5)), 13)
        word = (97 + rng.choice(26, size=size, p=letters)).astype(np.uint8).tobytes()
        seen.setdefault(word, None)
    return tuple(b" " + w for w in seen)


def _merge_all(seq: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``seq``, left to right, with ``new``."""
    out: list[int] = []
    i = 0
    while i < len(seq):
        if i + 1 < len(seq) and seq[i] == pair[0] and seq[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out


def learn_merges(
    pieces: tuple[bytes, ...], freqs: list[int], n_merges: int
) -> list[tuple[int, int]]:
    """BPE training on word counts: merge the most frequent pair (ties: smallest pair).

    Incremental: only the words holding the merged pair are re-counted, and only pairs with
    the new token can gain counts, so only those are pushed; a pair whose count fell is
    pushed again, with its true count, when its stale entry surfaces.
    """
    seqs = [list(p) for p in pieces]
    counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for i, seq in enumerate(seqs):
        for pair in itertools.pairwise(seq):
            counts[pair] += freqs[i]
            where[pair].add(i)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while heap and len(merges) < n_merges:
        negative, pair = heapq.heappop(heap)
        count = counts.get(pair, 0)
        if count != -negative:
            if count > 0:
                heapq.heappush(heap, (-count, pair))
            continue
        new = 256 + len(merges)
        merges.append(pair)
        born: set[tuple[int, int]] = set()
        for i in sorted(where.pop(pair)):
            old, freq = seqs[i], freqs[i]
            for p in itertools.pairwise(old):
                counts[p] -= freq
            seqs[i] = seq = _merge_all(old, pair, new)
            for p in itertools.pairwise(seq):
                counts[p] += freq
                if new in p:
                    where[p].add(i)
                    born.add(p)
        counts.pop(pair, None)
        for p in born:
            heapq.heappush(heap, (-counts[p], p))
    return merges


def _slot(key: int, mul: int) -> int:
    return ((key * mul) & 0xFFFFFFFF) >> (32 - CUCKOO_BITS)


def _cuckoo(merges: list[tuple[int, int]], mul0: int, mul1: int) -> tuple[list[int], list[int]]:
    """Cuckoo insertion of every merge; raises if it cycles (these multipliers do not fit)."""
    keys = [-1] * (1 << CUCKOO_BITS)
    ranks = [0] * (1 << CUCKOO_BITS)
    for rank, (a, b) in enumerate(merges):
        key, value, slot = (a << 16) | b, rank, _slot((a << 16) | b, mul0)
        for _ in range(len(keys)):
            keys[slot], key = key, keys[slot]
            ranks[slot], value = value, ranks[slot]
            if key < 0:
                break
            first = _slot(key, mul0)
            slot = _slot(key, mul1) if first == slot else first
        else:
            raise ValueError("cuckoo insertion cycles")
    return keys, ranks


def build_table(merges: list[tuple[int, int]]) -> np.ndarray:
    """The merge ranks as the kernels look them up, in one int32 array.

    ``[0, DENSE)``: a dense rank matrix of byte pairs (every piece starts as bytes); then the
    two odd multipliers; then cuckoo slots: each pair ``(a, b)`` sits in one of two slots,
    picked by multiplicative hashes of ``a << 16 | b``, as (key, rank). A lookup reads both
    slots and selects without a branch, where linear probing mispredicts on hit-or-miss.
    Insertion fails with odds near 1/n at this load; then the next multipliers are tried.
    """
    rng = np.random.default_rng(len(merges))
    mul0, mul1 = 0x5BD1E995, 0x27D4EB2F  # murmur2's and xxhash's odd constants, < 2^31
    while True:
        try:
            keys, ranks = _cuckoo(merges, mul0, mul1)
            break
        except ValueError:
            mul0, mul1 = (int(m) | 1 for m in rng.integers(1 << 30, 1 << 31, size=2))
    table = np.full(SLOTS + 2 * len(keys), NO_RANK, dtype=np.int32)
    table[DENSE : DENSE + 2] = mul0, mul1
    table[SLOTS::2] = keys
    table[SLOTS + 1 :: 2] = ranks
    for rank, (a, b) in enumerate(merges):
        if a < 256 and b < 256:
            table[a * 256 + b] = rank
    return table


def table_ranks(table: np.ndarray) -> dict[tuple[int, int], int]:
    """The merge ranks a table holds, read slot by slot (no hashing involved)."""
    keys, ranks = table[SLOTS::2].tolist(), table[SLOTS + 1 :: 2].tolist()
    return {(k >> 16, k & 0xFFFF): r for k, r in zip(keys, ranks, strict=True) if k >= 0}


def bpe_piece(piece: bytes, ranks: dict[tuple[int, int], int]) -> list[int]:
    """GPT-2's ``bpe``: merge all occurrences of the lowest-rank pair until none has a rank."""
    word = list(piece)
    while len(word) > 1:
        pair = min(itertools.pairwise(word), key=lambda p: ranks.get(p, NO_RANK))
        if pair not in ranks:
            break
        word = _merge_all(word, pair, 256 + ranks[pair])
    return word


@functools.lru_cache(maxsize=8)
def language(seed: int) -> Language:
    """The language of one seed (cached: learning the merges is the slow part)."""
    rng = np.random.default_rng(seed)
    pieces = _words(rng)
    probs = 1.0 / (np.arange(N_TYPES) + 2.7)
    probs /= probs.sum()
    freqs = [int(f) + 1 for f in TRAIN_WORDS * probs]
    table = build_table(learn_merges(pieces, freqs, N_MERGES))
    ranks = table_ranks(table)
    tokens = np.array([len(bpe_piece(p, ranks)) for p in pieces], dtype=np.int64)
    return Language(pieces, probs, table, tokens)


def make_inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Documents of Zipf words and full stops that encode to exactly ``n`` tokens.

    Returns the text bytes, document byte offsets, the merge table and a scratch buffer the
    kernels encode into (one int32 per byte: a document never has more tokens than bytes).
    """
    lang = language(int(rng.integers(2**62)))
    mean = float(lang.probs @ lang.tokens) + DOT_P
    m = int(n / mean * 1.2) + 64
    types = rng.choice(N_TYPES, size=m, p=lang.probs)
    dots = rng.random(m) < DOT_P
    total = np.cumsum(lang.tokens[types] + dots)
    k = int(np.searchsorted(total, n, side="right"))  # items [0, k) fit in n tokens
    assert k < m, "drew too few words"
    pad = n - (int(total[k - 1]) if k else 0)
    words = [
        lang.pieces[t] + b"." if d else lang.pieces[t]
        for t, d in zip(types[:k], dots[:k], strict=True)
    ]
    cuts = np.cumsum(rng.integers(*DOC_WORDS, size=k // DOC_WORDS[0] + 1))
    bounds = [0, *cuts[cuts < k].tolist(), k]
    docs = [b"".join(words[a:b]) for a, b in itertools.pairwise(bounds)]
    docs[-1] += b"." * pad
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(d) for d in docs])
    data = np.frombuffer(b"".join(docs), dtype=np.uint8).copy()
    return data, offsets, lang.table, np.full(data.size, 0, dtype=np.int32)  # pages touched


@numba.njit(cache=True, inline="always")
def _rank(table: np.ndarray, a: int, b: int) -> np.int32:
    """The rank of merging ``(a, b)``, NO_RANK if none: both cuckoo slots, no branch."""
    key = (a << 16) | b
    s0 = SLOTS + 2 * (((key * table[DENSE]) & 0xFFFFFFFF) >> (32 - CUCKOO_BITS))
    s1 = SLOTS + 2 * (((key * table[DENSE + 1]) & 0xFFFFFFFF) >> (32 - CUCKOO_BITS))
    r0 = table[s0 + 1] if table[s0] == key else NO_RANK
    return table[s1 + 1] if table[s1] == key else r0


@numba.njit(cache=True)
def _encode_piece(table: np.ndarray, sym: np.ndarray, rk: np.ndarray, size: int) -> int:
    """Merge ``sym[:size]`` in place, lowest rank first (leftmost on ties); returns its size."""
    for i in range(size - 1):
        rk[i] = table[sym[i] * 256 + sym[i + 1]]  # still bytes: the dense block
    while size > 1:
        best, at = NO_RANK, -1
        for i in range(size - 1):
            if rk[i] < best:
                best, at = rk[i], i
        if at < 0:
            break
        sym[at] = 256 + best
        size -= 1
        for i in range(at + 1, size):
            sym[i] = sym[i + 1]
        for i in range(at + 1, size - 1):
            rk[i] = rk[i + 1]
        if at > 0:
            rk[at - 1] = _rank(table, sym[at - 1], sym[at])
        if at < size - 1:
            rk[at] = _rank(table, sym[at], sym[at + 1])
    return size


@numba.njit(cache=True)
def _encode_doc(data: np.ndarray, lo: int, hi: int, table: np.ndarray, out: np.ndarray) -> int:
    """Pre-split one document and encode each piece into ``out[lo:]``; returns its tokens."""
    rk = np.empty(max(hi - lo, 1), dtype=np.int32)
    pos, i = lo, lo
    while i < hi:
        c = data[i]
        j = i + 1
        if c == 32 or 97 <= c <= 122:
            while j < hi and 97 <= data[j] <= 122:
                j += 1
        for t in range(j - i):
            out[pos + t] = data[i + t]
        pos += _encode_piece(table, out[pos : pos + j - i], rk, j - i)
        i = j
    return pos - lo


@numba.njit(cache=True)
def _offsets(counts: np.ndarray) -> np.ndarray:
    starts = np.zeros(counts.size + 1, dtype=np.int64)
    for d in range(counts.size):
        starts[d + 1] = starts[d] + counts[d]
    return starts


@numba.njit(cache=True)
def bpe_speed(
    data: np.ndarray, offsets: np.ndarray, table: np.ndarray, scratch: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_docs = offsets.size - 1
    counts = np.empty(n_docs, dtype=np.int64)
    for d in range(n_docs):
        counts[d] = _encode_doc(data, offsets[d], offsets[d + 1], table, scratch)
    starts = _offsets(counts)
    tokens = np.empty(starts[-1], dtype=np.int32)
    for d in range(n_docs):
        tokens[starts[d] : starts[d + 1]] = scratch[offsets[d] : offsets[d] + counts[d]]
    return tokens, starts


@numba.njit(cache=True, parallel=True)
def bpe_rate(
    data: np.ndarray, offsets: np.ndarray, table: np.ndarray, scratch: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_docs = offsets.size - 1
    counts = np.empty(n_docs, dtype=np.int64)
    for d in numba.prange(n_docs):
        counts[d] = _encode_doc(data, offsets[d], offsets[d + 1], table, scratch)
    starts = _offsets(counts)
    tokens = np.empty(starts[-1], dtype=np.int32)
    for d in numba.prange(n_docs):
        tokens[starts[d] : starts[d + 1]] = scratch[offsets[d] : offsets[d] + counts[d]]
    return tokens, starts


def bpe_reference(
    data: np.ndarray, offsets: np.ndarray, table: np.ndarray, scratch: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """GPT-2's encoder loop: regex pre-split, then ``bpe`` per piece through a word cache."""
    ranks = table_ranks(table)
    cache: dict[bytes, list[int]] = {}
    tokens: list[int] = []
    starts = [0]
    text = data.tobytes()
    for lo, hi in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
        for piece in PIECE.findall(text[lo:hi]):
            ids = cache.get(piece)
            if ids is None:
                ids = cache[piece] = bpe_piece(piece, ranks)
            tokens.extend(ids)
        starts.append(len(tokens))
    return np.array(tokens, dtype=np.int32), np.array(starts, dtype=np.int64)


WORKLOAD = Workload(
    name="bpe_tokenize",
    category="preprocess",
    description=f"byte-level BPE encoding, {N_MERGES} merges, ~{BYTES_PER_TOKEN} text bytes/token",
    unit="tokens",
    # Branchy integer work on L2-resident tables: neither FLOP- nor bandwidth-limited, so
    # read against no FLOP roof.
    bound="integer",
    sizes={"tiny": 2_000, "small": 100_000, "default": 1_000_000, "large": 8_000_000},
    work=lambda n: float(n),
    # Text read, each byte written to scratch as int32, the ids compacted (read and written).
    bytes=lambda n: 5.0 * BYTES_PER_TOKEN * n + 8.0 * n,
    # No floating point at all: one nominal integer operation per token (not a FLOP).
    flops=lambda n: float(n),
    make_inputs=make_inputs,
    speed=bpe_speed,
    rate=bpe_rate,
    reference=bpe_reference,
    rtol=0.0,  # token ids are integers: exact
    atol=0.0,
)
