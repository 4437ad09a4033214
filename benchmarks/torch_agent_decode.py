"""The agent_decode model in PyTorch, timed beside the Numba kernels: tokens per second.

Run: ``python benchmarks/torch_agent_decode.py [--sessions 8] [--repeats 3]``. PyTorch is
optional (imported only here, not a project dependency). The same seeded weights, KV cache
layout, exact-mass top-p sampler and splitmix64 uniforms are used, so in float64 PyTorch
reproduces the Numba tokens; in float32 (what a PyTorch user would run) it drifts from them
after some tokens, and its speed is the comparison that matters.

Latency: one session at a time on one thread (Numba's speed form, PyTorch batch 1).
Throughput: all sessions in lockstep on every thread (Numba's rate form, PyTorch batch n).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numba
import numpy as np

from workloads import agent_decode as ad


def _model(wts: tuple[np.ndarray, ...], dtype: Any) -> list[Any]:
    import torch

    return [torch.from_numpy(w).to(dtype) for w in wts]


def _rms(x: Any, gain: Any) -> Any:
    return x * (1.0 / (((x * x).sum(-1, keepdim=True) / x.shape[-1] + ad.EPS).sqrt())) * gain


def _sample(logits: Any, u: Any) -> Any:
    """Exact-mass top-p, as the kernels: stable descending sort, cumulative mass, look-up."""
    import torch

    w = torch.exp((logits - logits.max(-1, keepdim=True).values) * (1.0 / ad.TEMPERATURE))
    target = u * ad.TOP_P * w.sum(-1)
    values, order = torch.sort(w, dim=-1, descending=True, stable=True)
    k = (values.cumsum(-1) <= target[:, None]).sum(-1).clamp(max=w.shape[-1] - 1)
    return order.gather(-1, k[:, None])[:, 0]


def torch_decode(prompts: np.ndarray, seed: np.uint64, model: list[Any], first: int) -> Any:
    """Decode sessions ``first..first+len(prompts)`` in lockstep; their generated tokens."""
    import torch
    from torch.nn.functional import gelu, linear  # weights are (out, in), as nn.Linear's

    emb, pos, ln1, wqkv, wo, ln2, w1, w2, lnf, whead = model
    n, dt = prompts.shape[0], emb.dtype
    kc = torch.zeros((ad.LAYERS, n, ad.HEADS, ad.MAXLEN, ad.HEAD_DIM), dtype=dt)
    vc = torch.zeros_like(kc)
    tokens = torch.empty((n, ad.GEN), dtype=torch.int64)
    tok = torch.from_numpy(prompts[:, 0].astype(np.int64))
    for t in range(ad.MAXLEN):
        x = emb[tok] + pos[t]
        for layer in range(ad.LAYERS):
            q, k, v = linear(_rms(x, ln1[layer]), wqkv[layer]).view(n, 3, ad.HEADS, -1).unbind(1)
            kc[layer, :, :, t], vc[layer, :, :, t] = k, v
            scores = (kc[layer, :, :, : t + 1] @ q[..., None])[..., 0] / math.sqrt(ad.HEAD_DIM)
            att = torch.softmax(scores, -1)[:, :, None, :] @ vc[layer, :, :, : t + 1]
            x = x + linear(att.reshape(n, ad.DIM), wo[layer])
            hidden = gelu(linear(_rms(x, ln2[layer]), w1[layer]), approximate="tanh")
            x = x + linear(hidden, w2[layer])
        logits = linear(_rms(x, lnf), whead)
        if t + 1 < ad.PROMPT:
            tok = torch.from_numpy(prompts[:, t + 1].astype(np.int64))
            continue
        step = t + 1 - ad.PROMPT
        u = [ad.uniform_py(int(seed), first + s, step) for s in range(n)]
        tok = tokens[:, step] = _sample(logits, torch.tensor(u, dtype=dt))
    return tokens.numpy().astype(np.int32)


def _best(fn: Any, repeats: int) -> tuple[float, Any]:
    out, times = None, []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def _torch_rows(inputs: tuple[Any, ...], ref: np.ndarray, threads: int, repeats: int) -> list:
    """Rows per dtype: batch 1 on one thread; batch n on one thread; batch n on all threads."""
    import torch

    prompts, seed, wts = inputs[:3]
    n = prompts.shape[0]
    rows = []
    for dtype in (torch.float32, torch.float64):
        model = _model(wts, dtype)

        def one_by_one(model: list[Any] = model) -> np.ndarray:
            return np.concatenate([torch_decode(prompts[s : s + 1], seed, model, s)
                                   for s in range(n)])  # fmt: skip

        def batched(model: list[Any] = model) -> np.ndarray:
            return torch_decode(prompts, seed, model, 0)

        with torch.inference_mode():
            for label, fn, count in (("1 session", one_by_one, 1), (f"{n} sessions", batched, 1),
                                     (f"{n} sessions", batched, threads)):  # fmt: skip
                torch.set_num_threads(count)
                seconds, out = _best(fn, repeats)
                rows.append(
                    (f"torch {dtype}", f"{label}, {count} thr", seconds, (out == ref).all())
                )
    return rows


def main() -> None:
    """Print tokens/s of Numba and PyTorch (float32 and float64), latency and throughput."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    inputs = ad.make_inputs(args.sessions, np.random.default_rng(0))
    n, threads = args.sessions, numba.get_num_threads()
    ad.decode_speed(*inputs), ad.decode_rate(*inputs)  # compile outside the timing
    numba.set_num_threads(1)
    speed_s, ref = _best(lambda: ad.decode_speed(*inputs), args.repeats)
    rate1_s, _ = _best(lambda: ad.decode_rate(*inputs), args.repeats)
    numba.set_num_threads(threads)
    rate_s, _ = _best(lambda: ad.decode_rate(*inputs), args.repeats)
    rows = [("numba float64 sums", "1 session, 1 thr (speed)", speed_s, True),
            ("numba float64 sums", f"{n} sessions, 1 thr (rate)", rate1_s, True),
            ("numba float64 sums", f"{n} sessions, {threads} thr (rate)", rate_s, True),
            *_torch_rows(inputs, ref[0], threads, args.repeats)]  # fmt: skip
    print(f"{'implementation':<20} {'schedule':<28} {'tokens/s':>9}  same tokens as Numba")
    for name, schedule, seconds, same in rows:
        print(f"{name:<20} {schedule:<28} {n * ad.GEN / seconds:>9.0f}  {same}")
    for i, label in enumerate(("batch 1, 1 thread", "batched, 1 thread", "batched, all threads")):
        print(f"numba / torch float32, {label}: {rows[3 + i][2] / rows[i][2]:.2f}x")


def make_torch_callable(inputs: tuple[Any, ...]) -> Any:
    """For ``make perf``: the sessions batched in float32, as a serving stack would run them."""
    import torch

    prompts, seed, wts = inputs[:3]
    model = _model(wts, torch.float32)

    def run() -> np.ndarray:
        with torch.inference_mode():
            return torch_decode(prompts, seed, model, 0)

    return run


if __name__ == "__main__":
    main()
