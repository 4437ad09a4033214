"""Cross-architecture check: do two runs (say x86 native, aarch64 emulated) compute the same?

Integer and boolean outputs must be identical (same digest). Floating outputs are compared by
the summaries each case records (a strided sample and the sums) within twice the workload's
tolerance: each side is within the tolerance of the reference, so they are within twice it of
each other. Cases pair by workload, size and mode: outputs do not depend on threads or profile.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from harness.errors import UserError
from harness.keys import CaseKey
from harness.results import Run
from harness.untrusted import plain
from harness.workload import Workload


@dataclass(frozen=True)
class Difference:
    """One workload/size/mode whose outputs differ between the runs, and how."""

    workload: str
    size: str
    mode: str
    detail: str


@dataclass(frozen=True)
class Crosscheck:
    compared: int
    differences: tuple[Difference, ...]
    unpaired: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.differences


def _by_key(run: Run) -> dict[CaseKey, dict[str, Any]]:
    """Each ok case with outputs under its key with threads and profile erased."""
    found: dict[CaseKey, dict[str, Any]] = {}
    for case in run.results:
        if case.status == "ok" and case.outcome.get("outputs"):
            found.setdefault(case.key.computed, dict(case.outcome))
    return found


def _float_detail(a: dict[str, Any], b: dict[str, Any], rtol: float, atol: float) -> str | None:
    x, y = np.asarray(a["sample"]), np.asarray(b["sample"])
    if x.shape != y.shape or not np.allclose(x, y, rtol=2 * rtol, atol=2 * atol):
        worst = float(np.max(np.abs(x - y))) if x.shape == y.shape else float("inf")
        return f"sampled values differ (max abs difference {worst:.3g})"
    scale = max(a["abs_sum"], b["abs_sum"])
    count = int(np.prod(a["shape"])) if a["shape"] else 1
    if abs(a["sum"] - b["sum"]) > 2 * (rtol * scale + atol * count):
        return f"sums differ ({a['sum']:.17g} vs {b['sum']:.17g})"
    return None


def _output_detail(
    i: int, a: dict[str, Any], b: dict[str, Any], workload: Workload | None
) -> str | None:
    if a["dtype"] != b["dtype"] or a["shape"] != b["shape"]:
        return f"output {i}: {a['dtype']}{a['shape']} vs {b['dtype']}{b['shape']}"
    if a.get("kind") != "float":
        return None if a["digest"] == b["digest"] else f"output {i}: integer values differ"
    rtol, atol = (workload.rtol, workload.atol) if workload else (0.0, 0.0)
    detail = _float_detail(a, b, rtol, atol)
    return f"output {i}: {detail}" if detail else None


def crosscheck(a: Run, b: Run, workloads: dict[str, Workload]) -> Crosscheck:
    """Compare every workload/size/mode both runs measured successfully."""
    left, right = _by_key(a), _by_key(b)
    shared = sorted(set(left) & set(right))
    if not shared:
        raise UserError(f"runs {a.run_id} and {b.run_id} share no successful case to compare")
    differences = []
    for key in shared:
        outs_a, outs_b = left[key]["outputs"], right[key]["outputs"]
        if len(outs_a) != len(outs_b):
            differences.append(Difference(*key[:3], f"{len(outs_a)} vs {len(outs_b)} outputs"))
            continue
        for i, (x, y) in enumerate(zip(outs_a, outs_b, strict=True)):
            detail = _output_detail(i, x, y, workloads.get(key.workload))
            if detail:
                differences.append(Difference(*key[:3], detail))
    unpaired = sorted("/".join(k[:3]) for k in set(left) ^ set(right))
    return Crosscheck(len(shared), tuple(differences), tuple(unpaired))


def render(result: Crosscheck, a: Run, b: Run, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(asdict(result) | {"ok": result.ok}, indent=1) + "\n"
    if fmt != "text":
        raise UserError(f"unknown format {fmt!r} (choose from text, json)")
    head = f"{a.run_id} ({a.environment.get('arch')}) vs {b.run_id} ({b.environment.get('arch')})"
    lines = [f"{head}: {result.compared} workload/size/mode compared"]
    lines += [f"  DIFFERS {d.workload} {d.size} {d.mode}: {d.detail}" for d in result.differences]
    if result.unpaired:
        lines.append(f"  only in one run: {', '.join(result.unpaired)}")
    lines.append("same outputs" if result.ok else f"{len(result.differences)} differences")
    return "\n".join(plain(line) for line in lines) + "\n"  # run ids and hosts are data


def pick_two(runs: Sequence[Run]) -> tuple[Run, Run]:
    if len(runs) != 2:
        raise UserError(f"crosscheck compares exactly two runs, got {len(runs)}")
    return runs[0], runs[1]
