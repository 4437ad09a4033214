"""``make perf``: each Numba kernel beside the code a user would write instead, in one process.

For every workload: the vectorized NumPy alternative (``baseline``, else ``reference``), the
speed kernel and the rate kernel run on the same inputs, interleaved round by round so machine
noise hits all three alike; medians are compared. Memory-bound kernels are also read against
this host's triad bandwidth, measured here too. Where PyTorch is installed,
``benchmarks/torch_<workload>.py`` modules add a PyTorch CPU column. Nothing here asserts: it
prints measured ratios and which aims they meet.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.measure.roofline import triad_gbs  # noqa: E402
from harness.measure.timing import compare  # noqa: E402
from harness.workload import Workload, discover, select  # noqa: E402

FUSED_AIM = 2.0
NUMPY_AIM = 1.0
BANDWIDTH_AIM = 0.6
TORCH_AIM = 0.7


def median_time(
    fns: dict[str, Callable[[], Any]], rounds: int, budget_s: float
) -> dict[str, float]:
    """Median seconds per call of each function, rounds interleaved, within a time budget."""
    for fn in fns.values():
        fn()  # compile, warm caches
    samples: dict[str, list[float]] = {name: [] for name in fns}
    deadline = time.perf_counter() + budget_s
    for r in range(rounds):
        order = list(fns.items())
        if r % 2:
            order.reverse()
        for name, fn in order:
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
        if r >= 2 and time.perf_counter() > deadline:
            break
    return {name: float(np.median(s)) for name, s in samples.items()}


def torch_alternative(workload: Workload, inputs: tuple[Any, ...]) -> Callable[[], Any] | None:
    """The PyTorch version of a workload, when its module exists and torch imports."""
    path = ROOT / "benchmarks" / f"torch_{workload.name}.py"
    if not path.exists() or importlib.util.find_spec("torch") is None:
        return None
    spec = importlib.util.spec_from_file_location(f"torch_{workload.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    factory = getattr(module, "make_torch_callable", None)
    return factory(inputs) if factory is not None else None


def measure(
    workload: Workload, size: str, threads: int, rounds: int, budget: float
) -> dict[str, Any]:
    n = workload.sizes[size]
    inputs = workload.make_inputs(n, np.random.default_rng(0))
    for mode in ("speed", "rate"):
        check = compare(workload.kernel(mode)(*inputs), workload.reference(*inputs),
                        workload.rtol, workload.atol)  # fmt: skip
        if not check.ok:
            return {"workload": workload.name, "error": f"{mode}: {check.message}"}
    fns: dict[str, Callable[[], Any]] = {
        "numpy": lambda: workload.alternative(*inputs),
        "speed": lambda: (numba.set_num_threads(1), workload.speed(*inputs)),
        "rate": lambda: (numba.set_num_threads(threads), workload.rate(*inputs)),
    }
    torch_fn = torch_alternative(workload, inputs)
    if torch_fn is not None:
        fns["torch"] = torch_fn
    times = median_time(fns, rounds, budget)
    return {"workload": workload.name, "bound": workload.bound, "n": n, "times": times,
            "gbs": workload.bytes(n) / times["rate"] / 1e9}  # fmt: skip


def verdicts(row: dict[str, Any], triad: float) -> list[str]:
    t = row["times"]
    best = min(t["speed"], t["rate"])
    aim = FUSED_AIM if row["bound"] == "memory" else NUMPY_AIM
    notes = [f"{'met' if t['numpy'] / best >= aim else 'MISSED'} {aim:g}x NumPy"]
    if row["bound"] == "memory":
        frac = row["gbs"] / triad
        notes.append(f"{'met' if frac >= BANDWIDTH_AIM else 'MISSED'} 60% triad ({frac:.0%})")
    if "torch" in t:
        ratio = t["torch"] / best
        notes.append(f"{'met' if ratio >= TORCH_AIM else 'MISSED'} 0.7x torch ({ratio:.2f}x)")
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", help="workload size (default: small)")
    parser.add_argument("--workloads", help="comma list (default: all)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    parser.add_argument("--budget", type=float, default=8.0, help="seconds per workload")
    args = parser.parse_args(argv)
    threads = numba.config.NUMBA_NUM_THREADS
    console = Console() if sys.stdout.isatty() else Console(width=180)
    triad = triad_gbs(threads)
    console.print(f"triad bandwidth at {threads} threads: {triad:.1f} GB/s")
    table = Table("workload", "n", "NumPy", "speed", "rate", "torch", "speed/NumPy",
                  "rate/NumPy", "rate GB/s", "aims")  # fmt: skip
    for workload in select(discover(), args.workloads):
        if workload.category == "probe":
            continue
        row = measure(workload, args.size, threads, args.rounds, args.budget)
        if "error" in row:
            table.add_row(workload.name, "", "", "", "", "", "", "", "", f"[red]{row['error']}")
            continue
        t = row["times"]
        ms = {k: f"{v * 1e3:.3g} ms" for k, v in t.items()}
        table.add_row(workload.name, str(row["n"]), ms["numpy"], ms["speed"], ms["rate"],
                      ms.get("torch", "-"), f"{t['numpy'] / t['speed']:.2f}x",
                      f"{t['numpy'] / t['rate']:.2f}x", f"{row['gbs']:.3g}",
                      "; ".join(verdicts(row, triad)))  # fmt: skip
        console.print(f"measured {workload.name}")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
