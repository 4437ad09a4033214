"""Time the HTML report over 10,000 result rows (40 hosts x 25 workloads x 10 nights).

The runs are built in memory in the result format (manifest cases, pytest-benchmark entries),
priced through the catalog like ``harness report`` does, and rendered with history. Prints
the time to build the page and its size; the aims are 15 s and 20 MB. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.pricing.catalog import load_catalog  # noqa: E402
from harness.pricing.rows import priced_rows  # noqa: E402
from harness.results import SCHEMA, SCHEMA_VERSION, Run  # noqa: E402

AIM_S, AIM_MB = 15.0, 20.0
CATEGORIES = ("preprocess", "embed", "evaluate", "agent")
BOUNDS = ("memory", "compute", "latency")


def _environment(target: Any, index: int) -> dict[str, Any]:
    """A host of this catalog type as environment capture writes it (DMI names the type)."""
    return {
        "host": f"bench-{index:02d}", "arch": target.arch,
        "cpu": {"name": target.chip, "family": target.family, "core": target.core},
        "llvm": {"cpu_name": target.llvm_cpu, "host_cpu": target.llvm_cpu},
        "cloud": {"cloud": "aws", "instance_type": target.type, "source": "dmi"},
        "topology": {"vcpus": target.vcpus, "physical_cores": target.cores},
        "software": {"python": "3.11.9", "numba": "0.61.0", "numpy": "2.1.0"},
    }  # fmt: skip


def _roofline(target: Any, rng: np.random.Generator) -> dict[str, Any]:
    counts = sorted({1, target.vcpus})
    bw, peak = rng.uniform(8, 20), rng.uniform(30, 120)
    return {
        "threads": counts,
        "triad_gbs": {str(t): bw * min(t, 8) ** 0.7 for t in counts},
        "fma_gflops": {str(t): peak * t for t in counts},
        "sgemm_gflops": {str(t): peak * t * 0.8 for t in counts},
    }


def _case(w: int, target: Any, level: float, rng: np.random.Generator) -> dict[str, Any]:
    """One ok rate-mode case with all vCPUs busy, its median near ``level`` seconds."""
    median = level * rng.uniform(0.98, 1.02)
    return {
        "id": f"w{w:02d}/small/rate/t{target.vcpus}", "workload": f"w{w:02d}",
        "category": CATEGORIES[w % 4], "unit": "rows", "size": "small", "n": 1000,
        "mode": "rate", "threads": target.vcpus, "profile": "native", "work": 1e6,
        "bound": BOUNDS[w % 3], "bytes": 8e7, "flops": 4e8 * (1 + w % 5),
        "status": "ok", "error": None, "compile_s": 0.8, "cache_load_s": 0.05,
        "vector_isa": "sve" if target.arch == "aarch64" else "zmm",
        "stats": {"median_s": median, "ci_low_s": median * 0.99, "ci_high_s": median * 1.01,
                  "rounds": 10},
        "host_load": {"steal": 0.0, "other_load": 0.01, "noisy": False},
    }  # fmt: skip


def synthetic_runs(hosts: int = 40, workloads: int = 25, nights: int = 10) -> list[Run]:
    """hosts x nights runs of ``workloads`` cases; one workload steps 20% slower mid-way."""
    rng = np.random.default_rng(0)
    aws = [t for t in load_catalog().values() if t.cloud == "aws"]
    runs = []
    for h, target in enumerate(aws[:hosts]):
        speed = rng.uniform(0.5, 2.0) * (1.3 if target.arch == "aarch64" else 1.0)
        base = {w: 0.05 / speed / target.vcpus * rng.uniform(0.5, 2) for w in range(workloads)}
        roofline = _roofline(target, rng)
        for night in range(nights):
            slow = 1.2 if night >= nights // 2 and h % 7 == 0 else 1.0
            cases = [_case(w, target, base[w] * (slow if w == 0 else 1.0), rng)
                     for w in range(workloads)]  # fmt: skip
            run_id = f"202503{night + 1:02d}T030000Z-{h:04x}"
            manifest = {
                "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "run_id": run_id,
                "created": f"2025-03-{night + 1:02d}T03:00:00+00:00", "status": "complete",
                "environment": _environment(target, h), "roofline": roofline, "cases": cases,
            }  # fmt: skip
            runs.append(Run(Path(run_id), manifest, {"benchmarks": []}))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--workloads", type=int, default=25)
    parser.add_argument("--nights", type=int, default=10)
    args = parser.parse_args()
    from harness.report.render import write_report

    runs = synthetic_runs(args.hosts, args.workloads, args.nights)
    start = time.perf_counter()
    frame = priced_rows(runs)
    priced_s = time.perf_counter() - start
    envs = [{"run_id": r.run_id, "env": r.environment} for r in runs]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        start = time.perf_counter()
        write_report(frame, envs, out, runs=runs)
        build_s = time.perf_counter() - start
        size_mb = out.stat().st_size / 1e6
    print(f"rows: {len(frame)} ({len(runs)} runs); pricing {priced_s:.2f} s")
    print(f"report build: {build_s:.2f} s (aim <= {AIM_S:g} s)")
    print(f"report size: {size_mb:.2f} MB (aim <= {AIM_MB:g} MB)")


if __name__ == "__main__":
    main()
