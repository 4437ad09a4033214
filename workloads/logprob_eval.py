"""Post-training evaluation from logits: log-softmax over the vocabulary, per-token negative
log-likelihood and top-1 correctness (perplexity and accuracy follow from them).

Each token's row of logits is read from memory once, in blocks that stay in L1: a block's max
and arg-max first, then the sum of its exponentials against the running max, rescaling the
running sum when the max grows (the "online softmax" of Milakov and Gimelshein, 2018, done per
block so both sweeps vectorize). libm's scalar ``exp`` cost ~10 ns an element and made the
kernel compute bound; ``_exp_nonpos`` is a float64 polynomial exp that LLVM vectorizes on any
ISA (AVX-512, AVX2, NEON, SVE) and that is accurate to a few ulp, so outputs keep the float64
reference's tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from harness.workload import Workload

VOCAB = 32_000
BLOCK = 512  # 2 KB of float32 logits: stays in L1 between the max sweep and the exp sweep

# exp(d) = 2**k * exp(r), k = round(d / ln 2), |r| <= ln(2) / 2; ln 2 split in a high part
# with trailing zero bits (so k * LN2_HI is exact) and the rest (Cody and Waite).
LOG2E = 1.4426950408889634
LN2_HI = 0.6931471803691238
LN2_LO = 1.9082149292705877e-10
# Taylor coefficients 1/i! up to degree 13: truncation error < 5e-18 for |r| <= ln(2) / 2.
EXP_COEFFS = tuple(1.0 / math.factorial(i) for i in range(14))
C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13 = EXP_COEFFS
# Below this exp(d) < 1e-307: its term cannot change a sum that is at least 1 (the max's).
EXP_FLOOR = -708.0


@intrinsic
def _bits_as_float64(typingctx: Any, bits: Any) -> tuple[Any, Callable[..., Any]] | None:
    """Reinterpret an int64's bits as a float64 (builds 2**k without a libm call)."""
    if bits != types.int64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _maxnum32(typingctx: Any, a: Any, b: Any) -> tuple[Any, Callable[..., Any]] | None:
    """llvm.maxnum on float32: a max reduction LLVM vectorizes (a compare and select is not)."""
    if a != types.float32 or b != types.float32:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        f32 = ir.FloatType()
        fnty = ir.FunctionType(f32, [f32, f32])
        fn = builder.module.declare_intrinsic("llvm.maxnum", [f32], fnty)
        return builder.call(fn, args, fastmath=("fast",))

    return types.float32(types.float32, types.float32), codegen


# Only contraction into FMAs: no reassociation, which would break the Cody-Waite reduction.
@numba.njit(cache=True, fastmath={"contract"}, inline="always")
def _exp_nonpos(d: float) -> float:
    """exp(d) for d <= 0, branch-free so a loop of calls vectorizes."""
    d = max(d, EXP_FLOOR)
    k = math.floor(d * LOG2E + 0.5)
    r = (d - k * LN2_HI) - k * LN2_LO
    p = C13 * r + C12
    p = p * r + C11
    p = p * r + C10
    p = p * r + C9
    p = p * r + C8
    p = p * r + C7
    p = p * r + C6
    p = p * r + C5
    p = p * r + C4
    p = p * r + C3
    p = p * r + C2
    p = p * r + C1
    p = p * r + C0
    two_k: float = _bits_as_float64((np.int64(k) + 1023) << 52)
    return p * two_k


# reassoc lets the block sum and the block max vectorize; the reference sums pairwise, so the
# order differs anyway and costs ~1e-16 relative, far inside the tolerance.
@numba.njit(cache=True, fastmath={"contract", "reassoc", "nnan", "ninf", "nsz"})
def _block_max(block: np.ndarray) -> np.float32:
    m: np.float32 = block[0]
    for j in range(1, block.size):
        m = _maxnum32(m, block[j])
    return m


@numba.njit(cache=True, fastmath={"contract", "reassoc"})
def _block_sum_exp(block: np.ndarray, peak: float) -> float:
    total = 0.0
    for j in range(block.size):
        total += _exp_nonpos(np.float64(block[j]) - peak)
    return total


@numba.njit(cache=True)
def _token(row: np.ndarray, target: int) -> tuple[float, bool]:
    """NLL of the target and whether it is the arg-max (first index of the max, as NumPy)."""
    best = -np.inf
    arg = 0
    total = 0.0
    for start in range(0, row.size, BLOCK):
        block = row[start : start + BLOCK]  # indices from 0: no negative-index wraparound
        peak = np.float64(_block_max(block))
        if peak > best:
            arg = start
            while row[arg] != peak:
                arg += 1
            total *= _exp_nonpos(best - peak)
            best = peak
        total += _block_sum_exp(block, best)
    lse = best + math.log(total)
    return lse - row[target], arg == target


@numba.njit(cache=True)
def logprob_speed(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nll = np.empty(logits.shape[0], dtype=np.float64)
    correct = np.empty(logits.shape[0], dtype=np.bool_)
    for t in range(logits.shape[0]):
        nll[t], correct[t] = _token(logits[t], targets[t])
    return nll, correct


@numba.njit(cache=True, parallel=True)
def logprob_rate(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nll = np.empty(logits.shape[0], dtype=np.float64)
    correct = np.empty(logits.shape[0], dtype=np.bool_)
    for t in numba.prange(logits.shape[0]):
        nll[t], correct[t] = _token(logits[t], targets[t])
    return nll, correct


def logprob_reference(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = logits.astype(np.float64)
    peak = x.max(axis=1, keepdims=True)
    lse = peak[:, 0] + np.log(np.exp(x - peak).sum(axis=1))
    rows = np.arange(x.shape[0])
    return lse - x[rows, targets], logits.argmax(axis=1) == targets


def summary(nll: np.ndarray, correct: np.ndarray) -> dict[str, float]:
    """The numbers an evaluation report shows: perplexity and token accuracy."""
    return {"perplexity": float(np.exp(nll.mean())), "accuracy": float(correct.mean())}


def make_inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    logits = (rng.standard_normal((n, VOCAB), dtype=np.float32) * 2.0).astype(np.float32)
    targets = rng.integers(0, VOCAB, size=n).astype(np.int64)
    # A model that is right a third of the time: boost the target's logit for those tokens.
    hits = rng.random(n) < 1 / 3
    logits[np.arange(n)[hits], targets[hits]] += 12.0
    return logits, targets


WORKLOAD = Workload(
    name="logprob_eval",
    category="evaluate",
    description="log-softmax over a 32k vocabulary, per-token NLL, perplexity and accuracy",
    unit="tokens",
    bound="memory",
    sizes={"tiny": 16, "small": 256, "default": 2048, "large": 16384},
    work=lambda n: float(n),
    bytes=lambda n: 4.0 * VOCAB * n + 16.0 * n,
    flops=lambda n: 4.0 * VOCAB * n,
    make_inputs=make_inputs,
    speed=logprob_speed,
    rate=logprob_rate,
    reference=logprob_reference,
    # float64 accumulation and a few-ulp exp: the NLL differs from NumPy's pairwise float64
    # sum by ~1e-14 (measured 2e-14); 1e-9 leaves room for other ISAs' rounding.
    rtol=1e-9,
    atol=1e-9,
)
