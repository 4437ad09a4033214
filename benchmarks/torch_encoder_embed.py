"""The encoder_embed network in PyTorch, and a side-by-side timing of Numba against it.

PyTorch is not a project dependency: it is imported lazily, only here. Run it with
``python -m benchmarks.torch_encoder_embed [n_sequences] [repeats]`` from the repository root.
The speed form is compared with PyTorch at one thread, the rate form with PyTorch at Numba's
thread count, on the same inputs, after checking that both compute the same embeddings.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from workloads import encoder_embed as enc


def torch_encoder(weights: tuple[np.ndarray, ...], ids: np.ndarray, mask: np.ndarray) -> Any:
    """The same forward pass as ``workloads.encoder_embed`` (float32), as a torch tensor."""
    import torch
    import torch.nn.functional as F

    word, pos, emb_ln, wqkv, bqkv, wo, bo, ln1, w1, b1, w2, b2, ln2 = (
        torch.from_numpy(w) for w in weights
    )
    n, seq = ids.shape
    hidden, heads, dhead = enc.HIDDEN, enc.HEADS, enc.DHEAD

    def norm(y: Any, ln: Any) -> Any:
        return F.layer_norm(y, (hidden,), ln[0], ln[1], eps=enc.EPS)

    with torch.inference_mode():
        keep = torch.from_numpy(mask != 0)
        bias = torch.zeros(n, 1, 1, seq).masked_fill(~keep[:, None, None, :], float("-inf"))
        x = norm(word[torch.from_numpy(ids)] + pos[:seq], emb_ln)
        for layer in range(enc.LAYERS):
            qkv = torch.addmm(bqkv[layer], x.reshape(n * seq, hidden), wqkv[layer])
            q, k, v = qkv.view(n, seq, 3, heads, dhead).permute(2, 0, 3, 1, 4)
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            ctx = ctx.transpose(1, 2).reshape(n * seq, hidden)
            x = norm(torch.addmm(bo[layer], ctx, wo[layer]).view(n, seq, hidden) + x, ln1[layer])
            mid = F.gelu(torch.addmm(b1[layer], x.reshape(n * seq, hidden), w1[layer]))
            x = norm(torch.addmm(b2[layer], mid, w2[layer]).view(n, seq, hidden) + x, ln2[layer])
        kept = keep[..., None].to(x.dtype)
        pooled = (x * kept).sum(dim=1) / kept.sum(dim=1).clamp(min=1)
        return F.normalize(pooled, dim=1, eps=1e-12)


def _times(fn: Callable[[], Any], repeats: int) -> list[float]:
    """``repeats`` timed calls after one warm-up, then a pause: PyTorch's OpenMP threads spin
    for a while after its last call, and would steal a core from whatever runs next."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    time.sleep(0.5)
    return samples


def compare(n: int, repeats: int) -> list[tuple[str, float, float]]:
    """(form, Numba median s, PyTorch median s) for the speed form against PyTorch on one
    thread and the rate form against PyTorch on Numba's thread count, on the same inputs."""
    import numba
    import torch

    ids, mask, weights = enc.make_inputs(n, np.random.default_rng(0))
    expected = torch_encoder(weights, ids, mask).numpy()
    results = []
    threads = numba.get_num_threads()
    for form, kernel, torch_threads in (("speed", enc.encoder_speed, 1),
                                        ("rate", enc.encoder_rate, threads)):  # fmt: skip
        got = kernel(ids, mask, weights)
        if not np.allclose(got, expected, rtol=enc.WORKLOAD.rtol, atol=enc.WORKLOAD.atol):
            raise SystemExit(f"{form}: Numba and PyTorch disagree: {np.abs(got - expected).max()}")
        torch.set_num_threads(torch_threads)
        numba_s, torch_s = [], []
        for _ in range(2):  # ABAB blocks, so a change in outside load hits both alike
            numba_s += _times(lambda k=kernel: k(ids, mask, weights), repeats)
            torch_s += _times(lambda: torch_encoder(weights, ids, mask), repeats)
        results.append((form, float(np.median(numba_s)), float(np.median(torch_s))))
    return results


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else enc.WORKLOAD.sizes["default"]
    repeats = int(args[1]) if len(args) > 1 else 7
    tokens = n * enc.SEQ
    print(f"encoder_embed: {n} sequences x {enc.SEQ} tokens, median of 2x{repeats}")
    for form, numba_s, torch_s in compare(n, repeats):
        print(
            f"{form:5s}  numba {numba_s * 1e3:8.1f} ms ({tokens / numba_s:8.0f} tok/s)  "
            f"torch {torch_s * 1e3:8.1f} ms ({tokens / torch_s:8.0f} tok/s)  "
            f"numba/torch throughput {torch_s / numba_s:.2f}x"
        )


def make_torch_callable(inputs: tuple[Any, ...]) -> Callable[[], Any]:
    """For ``make perf``: the same forward pass on the workload's own inputs."""
    ids, mask, weights = inputs
    return lambda: torch_encoder(weights, ids, mask)


if __name__ == "__main__":
    main()
