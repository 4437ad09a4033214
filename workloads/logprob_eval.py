"""Post-training evaluation from logits: log-softmax over the vocabulary, per-token negative
log-likelihood and top-1 correctness (perplexity and accuracy follow from them).

Each token's row of logits is read once from memory into cache (a 32k-vocabulary row is
128 KB) and then swept twice there: max and arg-max, then the sum of exponentials.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from harness.workload import Workload

VOCAB = 32_000


@numba.njit(cache=True, fastmath=False)
def _token(row: np.ndarray, target: int) -> tuple[float, bool]:
    best = row[0]
    arg = 0
    for j in range(1, row.size):
        if row[j] > best:
            best = row[j]
            arg = j
    total = 0.0
    for j in range(row.size):
        total += math.exp(np.float64(row[j]) - best)
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
    rtol=1e-9,
    atol=1e-9,
)
