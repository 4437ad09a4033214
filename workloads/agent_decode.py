"""Autoregressive decoding: a small decoder-only transformer, a KV cache, top-p sampling.

The model (4 layers, hidden 256, 4 heads, vocabulary 4096, pre-RMSNorm, GELU MLP) has seeded
float32 weights, but activations, KV cache and sums are float64: sampled ids are an exact
output, and an id flips when a logit error moves a cumulative-probability boundary across the
uniform. float32 sums put logits ~5e-7 (up to 4e-6) from a float64 reference, which makes a
flip rare (PyTorch float32 matched 4096 of 4096 tokens) but possible on any run, failing the
case; float64 sums differ by ~1e-14, eight orders rarer. The uniform of (session, step) is
splitmix64 of a counter, in kernel and reference alike. Top-p is the "exact mass" variant
(the token where the descending cumulative mass passes ``u * p`` of the total), so the nucleus
cut-off itself never decides a token.

Speed form: sessions one after another, each token a chain of matrix-vector products. Rate
form: ``prange`` over groups of 4 sessions decoded in lockstep, so each weight loaded serves 4
sessions; the products are hand-written loops (no BLAS inside ``prange``, and BLAS has no
float32 x float64 product), one parallel region per call. error_model="numpy" drops the zero
test of each division, a branch that stops LLVM vectorizing (GELU: 11 ns an element with it,
1.4 ns without).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numba
import numpy as np

from harness.workload import Workload
from workloads._decoder_ref import (  # noqa: F401  (re-exported for tests and benchmarks)
    DIM,
    EPS,
    FFN,
    GEN,
    HEAD_DIM,
    HEADS,
    LAYERS,
    MASK64,
    MAXLEN,
    PROMPT,
    TEMPERATURE,
    TOP_P,
    VOCAB,
    Weights,
    decode_reference,
    make_model,
    sample_reference,
    uniform_py,
)  # fmt: skip

# logprob_eval's polynomial exp (a few ulp, and LLVM vectorizes it): libm's scalar exp and tanh
# (10-20 ns each) were a fifth of the time per token, in GELU and the sampling weights.
from workloads.logprob_eval import _exp_nonpos

GROUP = 4  # sessions decoded in lockstep by one thread of the rate form
STORE, ADD, GELU = 0, 1, 2  # what a product does with its sums: out =, out +=, out = gelu()
CUT = math.exp(-3.0)  # the sampling candidate threshold shrinks by this factor
JIT = {"cache": True, "error_model": "numpy"}


@numba.njit(inline="always", **JIT)
def _gelu(v: float) -> float:
    """GELU, tanh form; tanh|z| = (1 - e) / (1 + e) with e = exp(-2|z|) <= 1."""
    z = 0.7978845608028654 * (v + 0.044715 * v * v * v)
    e = _exp_nonpos(-2.0 * abs(z))
    return 0.5 * v * (1.0 + math.copysign((1.0 - e) / (1.0 + e), z))


# --- counter-based uniforms -------------------------------------------------------------------


@numba.njit(**JIT)
def _uniform(seed: np.uint64, session: int, step: int) -> float:
    """splitmix64 of (seed + session * 2**32 + step) as a float64 in [0, 1)."""
    z = seed + (np.uint64(session) << np.uint64(32)) + np.uint64(step)
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


# --- per-session pieces, shared by both forms -------------------------------------------------


@numba.njit(**JIT)
def _rmsnorm(x: np.ndarray, gain: np.ndarray, out: np.ndarray) -> None:
    ss = 0.0
    for i in range(x.size):
        ss += x[i] * x[i]
    scale = 1.0 / math.sqrt(ss / x.size + EPS)
    for i in range(x.size):
        out[i] = x[i] * scale * gain[i]


@numba.njit(**JIT)
def _attend_head(qkv: np.ndarray, kc: np.ndarray, vc: np.ndarray, h: int, t: int,
                 scores: np.ndarray, out: np.ndarray) -> None:  # fmt: skip
    """Cache head ``h``'s key and value at position ``t``, attend over 0..t into ``out``. Keys
    are cached transposed (dim, position): the score loop runs along positions, vectorized."""
    base = h * HEAD_DIM
    for i in range(HEAD_DIM):
        kc[i, t] = qkv[DIM + base + i]
        vc[t, i] = qkv[2 * DIM + base + i]
    sc = scores[: t + 1]
    sc[:] = 0.0
    for i in range(HEAD_DIM):
        qi, ki = qkv[base + i], kc[i]
        for p in range(t + 1):
            sc[p] += qi * ki[p]
    peak = -np.inf
    for p in range(t + 1):
        sc[p] *= 1.0 / math.sqrt(HEAD_DIM)
        peak = max(peak, sc[p])
    for p in range(t + 1):
        sc[p] = _exp_nonpos(sc[p] - peak)
    total = 0.0
    for p in range(t + 1):
        total += sc[p]
    out[base : base + HEAD_DIM] = 0.0
    for p in range(t + 1):
        wp = sc[p] / total
        for i in range(HEAD_DIM):
            out[base + i] += wp * vc[p, i]


@numba.njit(**JIT)
def _crossing(w: np.ndarray, cand: np.ndarray, tmp: np.ndarray, count: int,
              target: float) -> np.int64:  # fmt: skip
    """The id where the cumulative mass, in descending ``w`` (ties: lower id first), first
    exceeds ``target``: a weighted quickselect, linear in ``count`` on average. ``cand[:count]``
    holds ids in ascending order; partitions keep that order, so ties are met in id order."""
    lo, hi = 0, count
    base = 0.0  # mass of everything ordered before cand[lo:hi]
    last: np.int64 = cand[0]
    while hi > lo:
        a, b, c = w[cand[lo]], w[cand[(lo + hi) // 2]], w[cand[hi - 1]]
        pivot = max(min(a, b), min(max(a, b), c))  # median of three
        above = 0
        mass = base
        for i in range(lo, hi):
            if w[cand[i]] > pivot:
                tmp[above] = cand[i]
                above += 1
                mass += w[cand[i]]
        if mass > target:  # the crossing lies among the larger weights
            cand[lo : lo + above] = tmp[:above]
            hi = lo + above
            continue
        below = 0
        for i in range(lo, hi):
            v: np.int64 = cand[i]
            if w[v] == pivot:
                last = v
                mass += pivot
                if mass > target:
                    return v
            elif w[v] < pivot:
                tmp[below] = v
                below += 1
        cand[lo : lo + below] = tmp[:below]
        hi = lo + below
        base = mass
    return last  # only if rounding put the target past the whole mass


@numba.njit(**JIT)
def _sample(logits: np.ndarray, u: float, w: np.ndarray, cand: np.ndarray,
            tmp: np.ndarray) -> np.int64:  # fmt: skip
    """Exact-mass top-p. Tokens below a threshold that still leaves more mass above it than the
    target cannot be the answer, so only those above it are searched."""
    peak = logits.max()
    for v in range(logits.size):
        w[v] = _exp_nonpos((logits[v] - peak) * (1.0 / TEMPERATURE))
    total = 0.0
    for v in range(logits.size):
        total += w[v]
    target = u * TOP_P * total
    tau, count, mass = 1.0, 0, 0.0
    while mass <= target:
        tau *= CUT
        count, mass = 0, 0.0
        for v in range(logits.size):
            if w[v] >= tau:
                cand[count] = v
                count += 1
                mass += w[v]
    # A typed name, as mypy sees any Numba call as Any.
    token: np.int64 = _crossing(w, cand, tmp, count, target)
    return token


# --- products: float64 rows times float32 weights stored (out, in), as torch.nn.Linear -------
# Each output is a dot product along a contiguous weight row, summed in vector registers; four
# sessions share each weight load. "reassoc" lets LLVM split the sums into vector lanes: the
# order then differs from BLAS's (and between 1 and 4 rows) by ~1e-16 relative, inside the
# tolerance. Summing into memory rows instead stalled on stores, erratically (2x run to run).


@numba.njit(fastmath={"reassoc", "contract"}, **JIT)
def _dot4(x: np.ndarray, r: int, w: np.ndarray, acc: np.ndarray) -> None:
    x0, x1, x2, x3 = x[r], x[r + 1], x[r + 2], x[r + 3]
    for j in range(w.shape[0]):
        wj = w[j]
        s0 = s1 = s2 = s3 = 0.0
        for k in range(wj.size):
            wk = np.float64(wj[k])
            s0 += x0[k] * wk
            s1 += x1[k] * wk
            s2 += x2[k] * wk
            s3 += x3[k] * wk
        acc[r, j], acc[r + 1, j], acc[r + 2, j], acc[r + 3, j] = s0, s1, s2, s3


@numba.njit(fastmath={"reassoc", "contract"}, **JIT)
def _dot1(x: np.ndarray, r: int, w: np.ndarray, acc: np.ndarray) -> None:
    xr = x[r]
    for j in range(w.shape[0]):
        wj = w[j]
        s = 0.0
        for k in range(wj.size):
            s += xr[k] * wj[k]
        acc[r, j] = s


@numba.njit(**JIT)
def _matmul(x: np.ndarray, w: np.ndarray, out: np.ndarray, epilogue: int) -> None:
    """``out = x @ w.T``, or ``out += x @ w.T`` (ADD), or ``out = gelu(x @ w.T)`` (GELU)."""
    acc = np.empty((x.shape[0], w.shape[0]))
    r = 0
    while r + 4 <= x.shape[0]:
        _dot4(x, r, w, acc)
        r += 4
    for i in range(r, x.shape[0]):
        _dot1(x, i, w, acc)
    for i in range(x.shape[0]):
        a, o = acc[i], out[i]
        if epilogue == ADD:
            o += a
        elif epilogue == GELU:
            for j in range(a.size):
                o[j] = _gelu(a[j])
        else:
            o[:] = a


# --- the two forms ------------------------------------------------------------------------------


@numba.njit(**JIT)
def _decode(s0: int, rows: int, t0: int, t1: int, prompts: np.ndarray, seed: np.uint64,
            wts: Weights, kc: np.ndarray, vc: np.ndarray, tok: np.ndarray, tokens: np.ndarray,
            logits: np.ndarray) -> None:  # fmt: skip
    """Positions t0..t1 of sessions s0..s0+rows in lockstep: ``tok`` holds each session's
    next input token, sampled ones go to ``tokens``, the last logits to ``logits``."""
    emb, pos, ln1, wqkv, wo, ln2, w1, w2, lnf, whead = wts
    x, hn, att = np.empty((rows, DIM)), np.empty((rows, DIM)), np.empty((rows, DIM))
    qkv, ff = np.empty((rows, 3 * DIM)), np.empty((rows, FFN))
    scores, w = np.empty((rows * HEADS, MAXLEN)), np.empty((rows, VOCAB))
    cand, tmp = np.empty((rows, VOCAB), dtype=np.int64), np.empty((rows, VOCAB), dtype=np.int64)
    for t in range(t0, t1):
        for r in range(rows):
            x[r] = emb[tok[s0 + r]].astype(np.float64) + pos[t]
        for layer in range(LAYERS):
            for r in range(rows):
                _rmsnorm(x[r], ln1[layer], hn[r])
            _matmul(hn, wqkv[layer], qkv, STORE)
            for r in range(rows):
                for h in range(HEADS):
                    sc = scores[r * HEADS + h]
                    _attend_head(
                        qkv[r], kc[layer, s0 + r, h], vc[layer, s0 + r, h], h, t, sc, att[r]
                    )
            _matmul(att, wo[layer], x, ADD)
            for r in range(rows):
                _rmsnorm(x[r], ln2[layer], hn[r])
            _matmul(hn, w1[layer], ff, GELU)
            _matmul(ff, w2[layer], x, ADD)
        for r in range(rows):
            _rmsnorm(x[r], lnf, hn[r])
        _matmul(hn, whead, logits[s0 : s0 + rows], STORE)
        for r in range(rows):
            s, step = s0 + r, t + 1 - PROMPT
            if step < 0:
                tok[s] = prompts[s, t + 1]
            else:
                tok[s] = _sample(logits[s], _uniform(seed, s, step), w[r], cand[r], tmp[r])
                tokens[s, step] = tok[s]


@numba.njit(**JIT)
def decode_speed(prompts: np.ndarray, seed: np.uint64, wts: Weights, kc: np.ndarray,
                 vc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Each session decoded alone, token by token: the latency path."""
    n = prompts.shape[0]
    tokens = np.empty((n, GEN), dtype=np.int32)
    last = np.empty((n, VOCAB))
    tok = prompts[:, 0].astype(np.int64)
    for s in range(n):
        _decode(s, 1, 0, MAXLEN, prompts, seed, wts, kc, vc, tok, tokens, last)
    return tokens, last


@numba.njit(parallel=True, **JIT)
def decode_rate(prompts: np.ndarray, seed: np.uint64, wts: Weights, kc: np.ndarray,
                vc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Groups of GROUP sessions over the threads, each group in lockstep."""
    n = prompts.shape[0]
    tokens = np.empty((n, GEN), dtype=np.int32)
    last = np.empty((n, VOCAB))
    tok = prompts[:, 0].astype(np.int64)
    for g in numba.prange((n + GROUP - 1) // GROUP):
        s0 = g * GROUP
        _decode(s0, min(GROUP, n - s0), 0, MAXLEN, prompts, seed, wts, kc, vc, tok, tokens, last)
    return tokens, last


def decode_steps(prompts: np.ndarray, seed: np.uint64, wts: Weights, kc: np.ndarray,
                 vc: np.ndarray) -> list[float]:  # fmt: skip
    """Session 0 decoded from Python a position at a time: each generated token's latency."""
    tok = prompts[:, 0].astype(np.int64)
    tokens = np.empty((prompts.shape[0], GEN), dtype=np.int32)
    logits = np.empty((prompts.shape[0], VOCAB))
    latencies = []
    for t in range(MAXLEN):
        start = time.perf_counter()
        _decode(0, 1, t, t + 1, prompts, seed, wts, kc, vc, tok, tokens, logits)
        if t + 1 >= PROMPT:
            latencies.append(time.perf_counter() - start)
    return latencies


# --- inputs and declaration -------------------------------------------------------------------


def make_inputs(n: int, rng: np.random.Generator) -> tuple[Any, ...]:
    """``n`` sessions' prompts, the sampling seed, the model and a pre-allocated KV cache."""
    prompts = rng.integers(0, VOCAB, size=(n, PROMPT)).astype(np.int32)
    seed = np.uint64(rng.integers(0, 2**63))
    keys = np.zeros((LAYERS, n, HEADS, HEAD_DIM, MAXLEN))  # transposed: see _attend_head
    values = np.zeros((LAYERS, n, HEADS, MAXLEN, HEAD_DIM))
    return prompts, seed, make_model(rng), keys, values


MATMUL_PARAMS = LAYERS * (4 * DIM * DIM + 2 * DIM * FFN) + DIM * VOCAB
ATTENDED = MAXLEN * (MAXLEN + 1) // 2  # cached positions read, summed over the steps


def _bytes(n: int) -> float:
    """Rate form: float32 weights once per group and step, the float64 KV cache per session."""
    return 4.0 * MATMUL_PARAMS * MAXLEN * -(-n // GROUP) + 16.0 * n * LAYERS * DIM * ATTENDED


WORKLOAD = Workload(
    name="agent_decode",
    category="agent",
    description="transformer decoding (4x256, vocab 4096): KV cache, top-p sampling",
    unit="tokens",
    bound="latency",
    # Sessions; the rate form runs groups of 4, so large (64 groups) is the size for big hosts.
    sizes={"tiny": 2, "small": 4, "default": 8, "large": 256},
    work=lambda n: float(n * GEN),
    # Rate form: the float32 weights once per group and step, the float64 KV cache per session.
    bytes=_bytes,
    flops=lambda n: n * (2.0 * MATMUL_PARAMS * MAXLEN + 4.0 * LAYERS * DIM * ATTENDED),
    make_inputs=make_inputs,
    speed=decode_speed,
    rate=decode_rate,
    reference=decode_reference,
    steps=decode_steps,
    # Token ids must match exactly. The last logits are float64 sums in another order than
    # BLAS's, ~1e-14 apart; 1e-9 leaves room for other ISAs and libms.
    rtol=1e-9,
    atol=1e-9,
)
