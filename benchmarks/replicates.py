"""Where process-to-process variation comes from, and whether a cheap replicate samples it.

A case's interval rests on its processes (harness.measure.sample_stats), so two questions
decide how the harness makes replicates (issue 11, items 2 and 3):

1. Does a child forked from a warm parent (Numba imported, kernel compiled) vary from its
   siblings as much as a fresh interpreter does? A fork shares the parent's code placement
   and heap layout, so it may sample less of the variation than a new process.
2. Which of the harness's measures (inputs placed at fixed page offsets, transparent huge
   pages on the inputs, pinning to one CPU) shrink the variation between fresh processes?

Each replicate times ``--rounds`` calls of one workload's speed kernel and reports its median
and what the replicate cost in wall time (start-up, import, cache load, inputs). The
conditions are interleaved replicate by replicate, so a drift of the host hits all of them
alike. Printed, never asserted: this machine is shared and noisy.

    .venv/bin/python benchmarks/replicates.py --workload logprob_eval --size tiny -k 12
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HUGE = 2 << 20


def _huge(a: np.ndarray) -> np.ndarray:
    """A copy of ``a`` in anonymous memory aligned to 2 MiB and madvised for huge pages."""
    size = -(-(a.nbytes + HUGE) // HUGE) * HUGE
    buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    buf.madvise(mmap.MADV_HUGEPAGE)
    raw = np.frombuffer(buf, dtype=np.uint8)
    start = (-raw.ctypes.data) % HUGE
    out = raw[start : start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def _big_array(x: Any) -> bool:
    """A plain array over one huge page: worth backing by huge pages."""
    return (
        isinstance(x, np.ndarray)
        and x.nbytes > HUGE
        and x.flags.c_contiguous
        and (x.dtype != object)
    )


def _inputs(workload: Any, n: int, variant: str) -> tuple[Any, ...]:
    from harness.measure.placement import place

    made = workload.make_inputs(n, np.random.default_rng(0))
    if variant == "unplaced":
        return tuple(made)
    if variant == "thp":
        return tuple(_huge(x) if _big_array(x) else x for x in place(made))
    return place(made)


def _time(kernel: Any, inputs: tuple[Any, ...], rounds: int) -> float:
    kernel(*inputs)
    kernel(*inputs)  # warm-up, as the harness does
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        kernel(*inputs)
        samples.append(time.perf_counter() - start)
    return float(np.median(samples))


def _load(name: str) -> tuple[Any, Any]:
    from harness.workload import discover, select

    (workload,) = select(discover(()), name)
    return workload, workload.kernel("speed")


def replicate(name: str, size: str, rounds: int, variant: str) -> dict[str, float]:
    """One replicate in this process: inputs made fresh, the kernel timed."""
    from harness.measure.affinity import pin

    if variant != "unpinned":
        pin(0, set(os.sched_getaffinity(0)))
    workload, kernel = _load(name)
    return {"median_s": _time(kernel, _inputs(workload, workload.sizes[size], variant), rounds)}


def _fresh(args: argparse.Namespace, variant: str) -> dict[str, float]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--workload", args.workload,
         "--size", args.size, "--rounds", str(args.rounds)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result | {"cost_s": time.perf_counter() - start}


def _forked(args: argparse.Namespace) -> dict[str, float]:
    """A child of this (warm) process: Numba imported and the kernel compiled already."""
    start = time.perf_counter()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: fresh inputs, the parent's compiled kernel
        os.close(read)
        result = replicate(args.workload, args.size, args.rounds, "fork")
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        result = json.loads(pipe.read())
    os.waitpid(pid, 0)
    return result | {"cost_s": time.perf_counter() - start}


def _spread(medians: list[float]) -> str:
    logs = [np.log(m) for m in medians]
    sd = statistics.stdev(logs)
    q1, q3 = np.percentile(logs, [25, 75])
    robust = (q3 - q1) / 1.349  # the sd a normal spread with this IQR has: outliers aside
    return (f"median {np.median(medians) * 1e6:9.1f} us  between-process sd {sd:6.2%} "
            f"(IQR-based {robust:6.2%})  "
            f"range {min(medians) * 1e6:.1f}-{max(medians) * 1e6:.1f} us")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", default="logprob_eval")
    p.add_argument("--size", default="tiny")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("-k", type=int, default=12, help="replicates per condition")
    p.add_argument("--conditions", default="fresh,fork,unplaced,thp,unpinned")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(replicate(args.workload, args.size, args.rounds, args.child)))
        return
    conditions = args.conditions.split(",")
    workload, kernel = _load(args.workload)  # the parent warm: compiled, for the forks
    kernel(*_inputs(workload, workload.sizes[args.size], "fresh"))
    _fresh(args, "fresh")  # fill the Numba cache, so every fresh replicate loads from it
    got: dict[str, list[dict[str, float]]] = {c: [] for c in conditions}
    for _ in range(args.k):
        for c in conditions:
            got[c].append(_forked(args) if c == "fork" else _fresh(args, c))
    print(f"{args.workload}/{args.size}/speed, {args.k} replicates of {args.rounds} rounds each")
    for c in conditions:
        medians = [r["median_s"] for r in got[c]]
        cost = np.median([r["cost_s"] for r in got[c]])
        print(f"  {c:9s} {_spread(medians)}  cost per replicate {cost:.2f} s")
    if "fresh" in got:  # does a condition's spread differ from fresh interpreters'? (Levene)
        fresh = np.log([r["median_s"] for r in got["fresh"]])
        for c in conditions[1:] if conditions[0] == "fresh" else conditions:
            if c != "fresh":
                test = stats.levene(fresh, np.log([r["median_s"] for r in got[c]]))
                print(f"  spread of {c} against fresh: Levene p = {test.pvalue:.3f}")


if __name__ == "__main__":
    main()
