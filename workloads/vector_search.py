"""Exact top-k (k=10) cosine search of a batch of queries over an embedding corpus, in float32
and in int8 (per-vector scale, int32 accumulation), as a vector store's brute-force path does.

Vectors are L2-normalised at ingest (``make_inputs``), so cosine is the dot product. Compute
bound, not memory bound: each corpus row is read once per call and reused across the whole
query batch (float32: ``2*queries`` flops per 4 bytes; int8: ``2*queries`` ops per byte), far
above this machine's flops-per-byte balance. Both forms score corpus blocks in Numba: float32
with a 4-query x 2-row register tile (as fast as BLAS's GEMM here, and it keeps the whole call
on Numba's thread pool), int8 with an int32 dot product that LLVM turns into ``vpmaddwd`` on
AVX-512. Each block keeps its own top-k per query; the blocks' lists are merged per query.
speed runs the blocks in order, rate in ``prange`` (then merges in ``prange`` over queries).

Exactness. Results are ordered by score descending, then index ascending, in kernel and
reference alike. int8 scores are exact integers (|sum| <= 127*127*384 < 2**24) times the same
float32 scale product, so both sides agree bitwise. float32 scores differ with summation order,
so the data plants each query's ten neighbours at cosines 0.90, 0.86, ..., 0.54 among random
vectors (|cos| < ~0.3): no rounding can reorder or displace them.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from harness.workload import Workload

K = 10
DIM = 384
CORPUS_PER_QUERY = 6250  # 200k rows at default (32 queries)
BLOCK = 1024  # corpus rows per task: 1.5 MB float32 + 384 KB int8
LEVELS = 0.90 - 0.04 * np.arange(K)
# Reassociation for the float32 dot products (vectorised partial sums); no nnan/ninf.
FAST = {"reassoc", "contract", "nsz", "arcp", "afn"}
# The dot products of 4 queries with one corpus row (a column of the register tile).
F32x4 = tuple[np.float32, np.float32, np.float32, np.float32]
# The float32 form's ids and scores, then the int8 form's, each [queries, K].
Results = tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.int64], NDArray[np.float32]]


def corpus_rows(n: int) -> int:
    return CORPUS_PER_QUERY * n


@numba.njit(cache=True, inline="always")
def _offer(top_s: np.ndarray, top_i: np.ndarray, q: int, score: float, index: int) -> None:
    """Insert (score, index) into query q's list (row q of [queries, K] arrays, sorted by
    score desc, index asc) if it belongs. Rows are indexed, not sliced: a slice is a new
    array view with reference counting, costly at one call per score."""
    last = K - 1
    if score < top_s[q, last] or (score == top_s[q, last] and index > top_i[q, last]):
        return
    pos = last
    while pos > 0 and (
        score > top_s[q, pos - 1] or (score == top_s[q, pos - 1] and index < top_i[q, pos - 1])
    ):
        top_s[q, pos] = top_s[q, pos - 1]
        top_i[q, pos] = top_i[q, pos - 1]
        pos -= 1
    top_s[q, pos] = score
    top_i[q, pos] = index


@numba.njit(cache=True, fastmath=FAST)
def _tile_f32(
    queries: NDArray[np.float32], corpus: NDArray[np.float32], q: int, j: int
) -> tuple[F32x4, F32x4]:
    """Dot products of queries q..q+3 with corpus rows j and j+1: 8 accumulators in registers,
    so each loaded element feeds 2 or 4 FMAs."""
    a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = np.float32(0.0)
    for d in range(DIM):
        c0, c1 = corpus[j, d], corpus[j + 1, d]
        q0, q1, q2, q3 = queries[q, d], queries[q + 1, d], queries[q + 2, d], queries[q + 3, d]
        a00 += q0 * c0
        a01 += q0 * c1
        a10 += q1 * c0
        a11 += q1 * c1
        a20 += q2 * c0
        a21 += q2 * c1
        a30 += q3 * c0
        a31 += q3 * c1
    return (a00, a10, a20, a30), (a01, a11, a21, a31)


@numba.njit(cache=True)
def _scores_f32(
    queries: NDArray[np.float32],
    corpus: NDArray[np.float32],
    start: int,
    stop: int,
    scores: NDArray[np.float32],
) -> None:
    """scores[q, j - start] for rows start..stop-1 (``queries`` padded to a multiple of 4
    rows, ``corpus`` to an even number; the pads are never read back)."""
    for j in range(start, stop, 2):
        for q in range(0, queries.shape[0], 4):
            even, odd = _tile_f32(queries, corpus, q, j)
            for r in range(4):
                scores[q + r, j - start] = even[r]
                scores[q + r, j + 1 - start] = odd[r]


@numba.njit(cache=True)
def _scores_i8(
    q8: NDArray[np.int8],
    q_scale: NDArray[np.float32],
    c8: NDArray[np.int8],
    c_scale: NDArray[np.float32],
    start: int,
    stop: int,
    scores: NDArray[np.float32],
) -> None:
    """int8 scores: the exact int32 dot product times the scale product, in float32."""
    for j in range(start, stop):
        for q in range(q8.shape[0]):
            acc = np.int32(0)
            for d in range(DIM):
                acc += np.int32(q8[q, d]) * np.int32(c8[j, d])
            # int32 of the sum: exact here, and it lets LLVM keep 32-bit lanes (vpmaddwd).
            scores[q, j - start] = np.float32(np.int32(acc)) * (q_scale[q] * c_scale[j])


@numba.njit(cache=True)
def _scan(
    scores: NDArray[np.float32],
    start: int,
    stop: int,
    top_s: NDArray[np.float32],
    top_i: NDArray[np.int64],
) -> None:
    """Offer a block's scores to each query's list; most fail the first comparison."""
    for q in range(top_s.shape[0]):
        for j in range(start, stop):
            if scores[q, j - start] >= top_s[q, K - 1]:
                _offer(top_s, top_i, q, scores[q, j - start], j)


@numba.njit(cache=True)
def _search_block(
    b: int,
    padded_q: NDArray[np.float32],
    padded_c: NDArray[np.float32],
    q8: NDArray[np.int8],
    q_scale: NDArray[np.float32],
    c8: NDArray[np.int8],
    c_scale: NDArray[np.float32],
    cand_s: NDArray[np.float32],
    cand_i: NDArray[np.int64],
) -> None:
    """Both forms' top-k lists of corpus block b, into cand_*[form, b]."""
    start, stop = b * BLOCK, min((b + 1) * BLOCK, c8.shape[0])
    scores = np.empty((padded_q.shape[0], BLOCK + 1), dtype=np.float32)
    _scores_f32(padded_q, padded_c, start, stop, scores)
    _scan(scores, start, stop, cand_s[0, b], cand_i[0, b])
    _scores_i8(q8, q_scale, c8, c_scale, start, stop, scores)
    _scan(scores, start, stop, cand_s[1, b], cand_i[1, b])


@numba.njit(cache=True)
def _setup(
    queries: NDArray[np.float32], corpus: NDArray[np.float32]
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32], NDArray[np.int64]]:
    """Padded float32 operands and empty per-block lists [2 forms, blocks, queries, K]."""
    nq, rows = queries.shape[0], corpus.shape[0]
    padded_q = np.zeros(((nq + 3) // 4 * 4, DIM), dtype=np.float32)
    padded_q[:nq] = queries
    padded_c = corpus
    if rows % 2:
        padded_c = np.zeros((rows + 1, DIM), dtype=np.float32)
        padded_c[:rows] = corpus
    blocks = (rows + BLOCK - 1) // BLOCK
    cand_s = np.full((2, blocks, nq, K), -np.inf, dtype=np.float32)
    cand_i = np.full((2, blocks, nq, K), -1, dtype=np.int64)
    return padded_q, padded_c, cand_s, cand_i


@numba.njit(cache=True, inline="always")
def _merge(
    cand_s: NDArray[np.float32],
    cand_i: NDArray[np.int64],
    form: int,
    q: int,
    top_s: NDArray[np.float32],
    top_i: NDArray[np.int64],
) -> None:
    """Query q's top-k of one form from every block's list (empty slots hold index -1)."""
    for b in range(cand_s.shape[1]):
        for r in range(K):
            if cand_i[form, b, q, r] >= 0:
                _offer(top_s[form], top_i[form], q, cand_s[form, b, q, r], cand_i[form, b, q, r])


@numba.njit(cache=True)
def search_speed(
    queries: NDArray[np.float32],
    corpus: NDArray[np.float32],
    q8: NDArray[np.int8],
    q_scale: NDArray[np.float32],
    c8: NDArray[np.int8],
    c_scale: NDArray[np.float32],
) -> Results:
    """One stream: blocks in order, then the merge."""
    padded_q, padded_c, cand_s, cand_i = _setup(queries, corpus)
    nq = queries.shape[0]
    for b in range(cand_s.shape[1]):
        _search_block(b, padded_q, padded_c, q8, q_scale, c8, c_scale, cand_s, cand_i)
    top_s = np.full((2, nq, K), -np.inf, dtype=np.float32)
    top_i = np.full((2, nq, K), -1, dtype=np.int64)
    for q in range(nq):
        for form in range(2):
            _merge(cand_s, cand_i, form, q, top_s, top_i)
    return top_i[0], top_s[0], top_i[1], top_s[1]


@numba.njit(cache=True, parallel=True)
def search_rate(
    queries: NDArray[np.float32],
    corpus: NDArray[np.float32],
    q8: NDArray[np.int8],
    q_scale: NDArray[np.float32],
    c8: NDArray[np.int8],
    c_scale: NDArray[np.float32],
) -> Results:
    """Whole instance: corpus blocks in prange, then the merge in prange over queries."""
    padded_q, padded_c, cand_s, cand_i = _setup(queries, corpus)
    nq = queries.shape[0]
    for b in numba.prange(cand_s.shape[1]):
        _search_block(b, padded_q, padded_c, q8, q_scale, c8, c_scale, cand_s, cand_i)
    top_s = np.full((2, nq, K), -np.inf, dtype=np.float32)
    top_i = np.full((2, nq, K), -1, dtype=np.int64)
    for q in numba.prange(nq):
        for form in range(2):
            _merge(cand_s, cand_i, form, q, top_s, top_i)
    return top_i[0], top_s[0], top_i[1], top_s[1]


def _top_k(scores: np.ndarray, start: int, best_s: np.ndarray, best_i: np.ndarray) -> None:
    """Fold a block of scores into each query's exact top-k, ties by index ascending: every
    score at or above the block's k-th best is a candidate, so no tie is dropped."""
    kth = np.partition(scores, -K, axis=1)[:, -K]
    for q in range(scores.shape[0]):
        (hits,) = np.nonzero(scores[q] >= kth[q])
        s = np.concatenate([best_s[q], scores[q, hits]])
        i = np.concatenate([best_i[q], hits + start])
        order = np.lexsort((i, -s))[:K]
        best_s[q], best_i[q] = s[order], i[order]


def _search_numpy(
    left: np.ndarray, right: np.ndarray, scale: np.ndarray | None, block: int
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Blockwise exact top-k of left @ right.T (times ``scale`` [queries, rows] if given)."""
    best_s = np.full((left.shape[0], K), -np.inf, dtype=np.float32)
    best_i = np.full((left.shape[0], K), -1, dtype=np.int64)
    for start in range(0, right.shape[0], block):
        scores = left @ right[start : start + block].T
        if scale is not None:
            scores = scores * scale[:, start : start + block]
        _top_k(scores.astype(np.float32), start, best_s, best_i)
    return best_i, best_s


def search_reference(
    queries: NDArray[np.float32],
    corpus: NDArray[np.float32],
    q8: NDArray[np.int8],
    q_scale: NDArray[np.float32],
    c8: NDArray[np.int8],
    c_scale: NDArray[np.float32],
) -> Results:
    """float64 scores for the float32 form; for int8, float32 GEMMs of the int8 values (exact:
    every partial sum is an integer below 2**24) times the same float32 scale product."""
    idx_f, score_f = _search_numpy(queries.astype(np.float64), corpus, None, 16384)
    scale = q_scale[:, None] * c_scale[None, :]
    idx_q, score_q = _search_numpy(q8.astype(np.float32), c8.astype(np.float32), scale, 16384)
    return idx_f, score_f, idx_q, score_q


def search_baseline(
    queries: NDArray[np.float32],
    corpus: NDArray[np.float32],
    q8: NDArray[np.int8],
    q_scale: NDArray[np.float32],
    c8: NDArray[np.int8],
    c_scale: NDArray[np.float32],
) -> tuple[np.ndarray, ...]:
    """What a NumPy user writes: one GEMM per form (int8 values as float32, exact as in the
    reference), argpartition, sort the k best."""
    out = []
    for left, right, scale in (
        (queries, corpus, None),
        (q8.astype(np.float32), c8.astype(np.float32), q_scale[:, None] * c_scale[None, :]),
    ):
        scores = left @ right.T if scale is None else (left @ right.T) * scale
        part = np.argpartition(-scores, K, axis=1)[:, :K]
        picked = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-picked, axis=1, kind="stable")
        out += [np.take_along_axis(part, order, axis=1).astype(np.int64),
                np.take_along_axis(picked, order, axis=1)]  # fmt: skip
    return tuple(out)


def _unit(x: NDArray[np.float32]) -> NDArray[np.float32]:
    norm: NDArray[np.float32] = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / norm).astype(np.float32)


def _quantize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-vector int8: x ~= q * scale with q in [-127, 127]."""
    scale = (np.abs(x).max(axis=1) / 127.0).astype(np.float32)
    q = np.clip(np.rint(x / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def make_inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """n unit queries, 6250n unit corpus vectors; each query's K neighbours planted at known
    cosines (LEVELS) at random rows; both sides quantised to int8 at ingest."""
    queries = _unit(rng.standard_normal((n, DIM), dtype=np.float32))
    corpus = rng.standard_normal((corpus_rows(n), DIM), dtype=np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    rows = rng.choice(corpus.shape[0], size=(n, K), replace=False)
    noise = rng.standard_normal((n, K, DIM))
    q64 = queries.astype(np.float64)[:, None, :]
    noise -= (noise * q64).sum(axis=2, keepdims=True) * q64
    noise /= np.linalg.norm(noise, axis=2, keepdims=True)
    level = LEVELS[None, :, None]
    corpus[rows] = level * q64 + np.sqrt(1.0 - level**2) * noise
    q8, q_scale = _quantize(queries)
    c8, c_scale = _quantize(corpus)
    return queries, corpus, q8, q_scale, c8, c_scale


WORKLOAD = Workload(
    name="vector_search",
    category="embed",
    description="exact top-10 cosine search over 384-d vectors, float32 and int8 (int32 sums)",
    unit="queries",
    bound="compute",
    sizes={"tiny": 2, "small": 8, "default": 32, "large": 128},
    work=lambda n: float(n),
    bytes=lambda n: corpus_rows(n) * (5.0 * DIM + 4.0) + n * 5.0 * DIM,
    flops=lambda n: 2.0 * 2.0 * n * corpus_rows(n) * DIM,
    make_inputs=make_inputs,
    speed=search_speed,
    rate=search_rate,
    reference=search_reference,
    baseline=search_baseline,
    # float32 scores: reassociated float32 sums of 384 products against float64, |score| <= 1:
    # a few ulp (6e-8 seen). int8 scores and every index: exact.
    rtol=1e-5,
    atol=1e-6,
)
