"""The host's own limits, measured in the same run: triad bandwidth, FMA peak and SGEMM rate.

Each workload's result is read against the limit that bounds it (bandwidth for memory-bound
work, the SIMD FMA peak for compute-bound), at one thread for the speed form and at the run's
thread count for the rate form. The probes run in their own worker process, like workloads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from harness.measure.sample_stats import median_ci

TRIAD_N = 1 << 25  # 768 MiB over three arrays: far past any last-level cache
FMA_LANES = 256  # independent accumulators: enough vector registers to hide FMA latency
FMA_ITERS = 2_000_000
GEMM_N = 1024
REPEATS = 7


@numba.njit(fastmath=True, cache=True)  # type: ignore[untyped-decorator]
def _fma_chains(iters: int, a: np.float32, b: np.float32) -> Any:
    acc = np.empty(FMA_LANES, dtype=np.float32)
    for j in range(FMA_LANES):
        acc[j] = np.float32(j) * np.float32(1e-3)
    for _ in range(iters):
        for j in range(FMA_LANES):
            acc[j] = acc[j] * a + b
    return acc.sum()


@numba.njit(fastmath=True, parallel=True, cache=True)  # type: ignore[untyped-decorator]
def _fma_parallel(iters: int, a: np.float32, b: np.float32, threads: int) -> np.ndarray:
    out = np.zeros(threads, dtype=np.float32)
    for t in numba.prange(threads):
        out[t] = _fma_chains(iters, a, b)
    return out


def _median_s(fn: Callable[[], Any]) -> float:
    fn()  # compile and warm
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return median_ci(samples).value


def triad_gbs(threads: int) -> float:
    from workloads.triad import triad_rate, triad_speed

    rng = np.random.default_rng(0)
    a, b, c = np.zeros(TRIAD_N), rng.standard_normal(TRIAD_N), rng.standard_normal(TRIAD_N)
    numba.set_num_threads(threads)
    kernel = triad_speed if threads == 1 else triad_rate
    return 24.0 * TRIAD_N / _median_s(lambda: kernel(a, b, c)) / 1e9


def fma_gflops(threads: int) -> float:
    a, b = np.float32(0.999999), np.float32(1e-6)
    numba.set_num_threads(threads)
    seconds = _median_s(lambda: _fma_parallel(FMA_ITERS, a, b, threads))
    return 2.0 * FMA_LANES * FMA_ITERS * threads / seconds / 1e9


def sgemm_gflops(threads: int) -> float:
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    x = rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    y = rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        seconds = _median_s(lambda: np.dot(x, y))
    return 2.0 * GEMM_N**3 / seconds / 1e9


def measure(threads: int) -> dict[str, Any]:
    """Every probe at one thread and at ``threads``."""
    counts = sorted({1, threads})
    return {
        "threads": counts,
        "triad_gbs": {str(t): triad_gbs(t) for t in counts},
        "fma_gflops": {str(t): fma_gflops(t) for t in counts},
        "sgemm_gflops": {str(t): sgemm_gflops(t) for t in counts},
    }


def run_probes(
    python: list[str], env: dict[str, str], threads: int, timeout_s: float
) -> dict[str, Any]:
    """Measure the limits in a fresh process; a failure is recorded, never fatal."""
    try:
        proc = subprocess.run(
            [*python, "-m", "harness.measure.roofline", str(threads)],
            capture_output=True, text=True, env=env, timeout=timeout_s, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"roofline probes timed out after {timeout_s:g} s"}
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-2:])
        return {"error": f"roofline probes failed ({proc.returncode}): {tail}"}
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]))))
