"""The host's own limits, measured in the same run: triad bandwidth, FMA peak and SGEMM rate.

Each workload's result is read against the limit that bounds it (bandwidth for memory-bound
work, the SIMD FMA peak for compute-bound), at one thread for the speed form and at the run's
thread count for the rate form. The probes run in their own worker process, like workloads.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np

from harness.measure.sample_stats import median_ci

TRIAD_N = 1 << 25  # 768 MiB over three arrays: far past any last-level cache
# Independent FMA chains, in float32 lanes: enough vectors to hide the FMA latency on every unit
# and few enough to stay in registers. Which count does both depends on the ISA (AVX2: 16
# registers of 8 lanes, AVX-512: 32 of 16, NEON/SVE-128: 32 of 4), so each is tried and the
# fastest is the peak: one fixed 256 spilled to the stack on AVX2 and read a quarter of it.
FMA_LANES = (64, 96, 128, 192, 256)
FMA_WORK = 1 << 29  # lane-iterations per call, whatever the lane count: ~10 ms at 100 GFLOP/s
GEMM_N = 1024
REPEATS = 7


@functools.cache
def _fma_kernels(lanes: int) -> tuple[Any, Any]:
    """The single-thread and the parallel FMA probe over ``lanes`` chains (a compile-time
    constant, so LLVM can keep the accumulators in registers)."""

    @numba.njit(fastmath=True, cache=True)  # type: ignore[untyped-decorator]
    def chains(iters: int, a: np.float32, b: np.float32) -> Any:
        acc = np.empty(lanes, dtype=np.float32)
        for j in range(lanes):
            acc[j] = np.float32(j) * np.float32(1e-3)
        for _ in range(iters):
            for j in range(lanes):
                acc[j] = acc[j] * a + b
        return acc.sum()

    @numba.njit(fastmath=True, parallel=True, cache=True)  # type: ignore[untyped-decorator]
    def parallel(iters: int, a: np.float32, b: np.float32, threads: int) -> np.ndarray:
        out = np.zeros(threads, dtype=np.float32)
        for t in numba.prange(threads):
            out[t] = chains(iters, a, b)
        return out

    return chains, parallel


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


def _fma_gflops(lanes: int, threads: int) -> float:
    iters = FMA_WORK // lanes
    a, b = np.float32(0.999999), np.float32(1e-6)
    parallel = _fma_kernels(lanes)[1]
    seconds = _median_s(lambda: parallel(iters, a, b, threads))
    return 2.0 * lanes * iters * threads / seconds / 1e9


def fma_gflops(threads: int) -> float:
    numba.set_num_threads(threads)
    return max(_fma_gflops(lanes, threads) for lanes in FMA_LANES)


def sgemm_gflops(threads: int) -> float:
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    x = rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    y = rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        seconds = _median_s(lambda: np.dot(x, y))
    return 2.0 * GEMM_N**3 / seconds / 1e9


SYSFS_CPUS = Path("/sys/devices/system/cpu")
_SUFFIX = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _cache_size(text: str) -> int:
    """sysfs writes cache sizes as ``32768K``."""
    text = text.strip()
    return int(text[:-1]) * _SUFFIX[text[-1]] if text[-1:] in _SUFFIX else int(text)


def _cache_entry(index: Path) -> tuple[int, str, int] | None:
    try:
        if (index / "type").read_text().strip() == "Instruction":
            return None
        level = int((index / "level").read_text())
        shared = (index / "shared_cpu_list").read_text().strip()
        return level, shared, _cache_size((index / "size").read_text())
    except (OSError, ValueError, KeyError):
        return None


def llc_bytes(root: Path = SYSFS_CPUS) -> int | None:
    """The last-level cache, every instance of it summed (None where sysfs does not say): a
    case whose bytes fit in it is cache-resident, and must not be read against DRAM."""
    found = {(e[0], e[1]): e[2] for i in root.glob("cpu[0-9]*/cache/index[0-9]*")
             if (e := _cache_entry(i)) is not None}  # fmt: skip
    if not found:
        return None
    top = max(level for level, _ in found)
    return sum(size for (level, _), size in found.items() if level == top)


def measure(threads: int) -> dict[str, Any]:
    """Every probe at one thread and at ``threads``, and the last-level cache size."""
    counts = sorted({1, threads})
    return {
        "threads": counts,
        "llc_bytes": llc_bytes(),
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
