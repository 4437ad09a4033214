"""agent_decode's model shape, seeded weights and plain-NumPy reference (sessions batched,
float64 BLAS products): what the Numba kernels in ``agent_decode`` are checked against."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

VOCAB, DIM, HEADS, LAYERS, FFN = 4096, 256, 4, 4, 1024
HEAD_DIM = DIM // HEADS
PROMPT, GEN = 8, 32  # prompt tokens per session, generated tokens per session
MAXLEN = PROMPT + GEN - 1  # the last sampled token is never fed back
TOP_P, TEMPERATURE = 0.9, 0.8
LOGIT_STD = 2.0  # logit spread of the random model: a nucleus of a few hundred tokens
EPS = 1e-5
GEMM_ROWS = 16  # the reference batches its products from this many sessions
MASK64 = (1 << 64) - 1

Weights = tuple[np.ndarray, ...]


def uniform_py(seed: int, session: int, step: int) -> float:
    """The same splitmix64 uniform in plain Python integers (the reference's copy)."""
    z = (seed + (session << 32) + step + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    z ^= z >> 31
    return (z >> 11) * (1.0 / 9007199254740992.0)


def _project(x: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """``x @ w``; OpenBLAS packs all of ``w`` per dgemm, so a few rows go as GEMVs (10x faster)."""
    return x @ w if x.shape[0] >= GEMM_ROWS else np.stack([row @ w for row in x])


def _rms_ref(x: NDArray[np.float64], gain: NDArray[np.float64]) -> NDArray[np.float64]:
    scale = 1.0 / np.sqrt((x * x).sum(axis=1) / x.shape[1] + EPS)
    out: NDArray[np.float64] = x * scale[:, None] * gain
    return out


def _gelu_ref(v: NDArray[np.float64]) -> NDArray[np.float64]:
    return 0.5 * v * (1.0 + np.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))


def sample_reference(logits: np.ndarray, u: np.ndarray) -> NDArray[np.int32]:
    """Exact-mass top-p over whole rows: stable descending sort, cumulative mass, look-up."""
    w = np.exp((logits - logits.max(axis=1, keepdims=True)) * (1.0 / TEMPERATURE))
    target = u * TOP_P * w.sum(axis=1)
    order = np.argsort(-w, axis=1, kind="stable")
    cum = np.cumsum(np.take_along_axis(w, order, axis=1), axis=1)
    k: NDArray[np.intp] = np.minimum((cum <= target[:, None]).sum(axis=1), logits.shape[1] - 1)
    return order[np.arange(logits.shape[0]), k].astype(np.int32)


def _attend_ref(qkv: np.ndarray, kc: np.ndarray, vc: np.ndarray, t: int) -> NDArray[np.float64]:
    n = qkv.shape[0]
    q = qkv[:, :DIM].reshape(n, HEADS, 1, HEAD_DIM)
    kc[:, :, :, t] = qkv[:, DIM : 2 * DIM].reshape(n, HEADS, HEAD_DIM)
    vc[:, :, t] = qkv[:, 2 * DIM :].reshape(n, HEADS, HEAD_DIM)
    scores = np.matmul(q, kc[:, :, :, : t + 1])[:, :, 0] * (1.0 / math.sqrt(HEAD_DIM))
    p = np.exp(scores - scores.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    ctx: NDArray[np.float64] = np.matmul(p[:, :, None, :], vc[:, :, : t + 1])[:, :, 0]
    return ctx.reshape(n, DIM)


def decode_reference(prompts: np.ndarray, seed: np.uint64, wts: Weights, kc: np.ndarray,
                     vc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The same decoding in NumPy: sessions batched per position, BLAS products in float64."""
    emb, pos, ln1, wqkv, wo, ln2, w1, w2, lnf, whead = (a.astype(np.float64) for a in wts)
    wqkv, wo, w1, w2, whead = (np.swapaxes(a, -1, -2) for a in (wqkv, wo, w1, w2, whead))
    n = prompts.shape[0]
    kc, vc = np.zeros_like(kc), np.zeros_like(vc)  # its own cache
    tokens = np.empty((n, GEN), dtype=np.int32)
    tok = prompts[:, 0]
    for t in range(MAXLEN):
        x = emb[tok] + pos[t]
        for layer in range(LAYERS):
            qkv = _project(_rms_ref(x, ln1[layer]), wqkv[layer])
            x = x + _project(_attend_ref(qkv, kc[layer], vc[layer], t), wo[layer])
            x = x + _project(_gelu_ref(_project(_rms_ref(x, ln2[layer]), w1[layer])), w2[layer])
        logits = _project(_rms_ref(x, lnf), whead)
        if t + 1 < PROMPT:
            tok = prompts[:, t + 1]
            continue
        u = np.array([uniform_py(int(seed), s, t + 1 - PROMPT) for s in range(n)])
        tok = tokens[:, t + 1 - PROMPT] = sample_reference(logits, u)
    return tokens, logits


def make_model(rng: np.random.Generator) -> Weights:
    """Seeded float32 weights: embeddings, positions, layers, final norm, head; product
    weights stored (out, in), each output's weights contiguous."""

    def normal(shape: tuple[int, ...], std: float) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)

    def linear(shape: tuple[int, ...], std: float) -> np.ndarray:
        return np.ascontiguousarray(np.swapaxes(normal(shape, std), -1, -2))

    def gains(shape: tuple[int, ...]) -> np.ndarray:
        return np.float32(1.0) + normal(shape, 0.1)

    return (normal((VOCAB, DIM), 1.0), normal((MAXLEN, DIM), 0.5), gains((LAYERS, DIM)),
            linear((LAYERS, DIM, 3 * DIM), DIM**-0.5),
            linear((LAYERS, DIM, DIM), DIM**-0.5), gains((LAYERS, DIM)),
            linear((LAYERS, DIM, FFN), DIM**-0.5), linear((LAYERS, FFN, DIM), FFN**-0.5),
            gains((DIM,)), linear((DIM, VOCAB), LOGIT_STD * DIM**-0.5))  # fmt: skip
