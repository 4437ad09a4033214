"""Adaptive replication: add worker processes to the cases whose interval is still too wide.

The process is the replicate (``harness.measure.sample_stats``), so a case's interval narrows
only with more processes, about as 1 / sqrt(K). After the ``--processes`` passes, each case whose
95% interval is wider than ``--ci-target`` (its relative half-width) runs one more process, pass
after pass, until every case meets the target, a case reaches ``--max-processes``, or the added
passes have spent ``--ci-budget`` seconds. Each case records the target, the half-width it
reached and whether it met it (``precision`` in the manifest), so a reader knows which
intervals are as narrow as asked and which ran out of processes or time.

Only cases that are still wide run again: a quiet, steady case stays at five processes while a
noisy one gets the extra replicates it needs. At least two processes are needed to see any
spread, so runs of one process are never extended.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from harness.records import CaseResult
from harness.results import RunWriter
from harness.run.plan import Case

RunPass = Callable[[int, Callable[[Case], bool]], None]


def half_width(entry: dict[str, Any]) -> float:
    """The case interval's relative half-width (the larger side); inf when it has none."""
    result = CaseResult.from_json(entry)
    if not result.ok or result.stats is None:
        return math.nan
    time_ = result.stats.time
    if not (time_.has_interval and time_.value > 0):
        return math.inf
    return max(time_.high / time_.value - 1, 1 - time_.low / time_.value)


def _mark(writer: RunWriter, cases: Sequence[Case], target: float) -> list[Case]:
    """Record each case's precision against the target; return the ok cases still too wide."""
    wide = []
    for case in cases:
        entry = writer.case(case.id)
        width = half_width(entry)
        if math.isnan(width):
            entry.pop("precision", None)
            continue
        met = width <= target
        entry["precision"] = {"target": target, "half_width": width if math.isfinite(width)
                              else None, "met": met}  # fmt: skip
        if not met:
            wide.append(case)
    writer.flush()
    return wide


def _member(ids: set[str]) -> Callable[[Case], bool]:
    return lambda case: case.id in ids


def extend(
    writer: RunWriter,
    cases: Sequence[Case],
    options: Any,
    run_pass: RunPass,
    first_passes_s: float,
) -> tuple[int, str]:
    """Run extra passes over the cases still wider than the target; how many, and why it
    stopped. ``run_pass(number, runs)`` runs pass ``number`` over the cases ``runs`` picks."""
    target, most = options.ci_target, options.max_processes
    if not target or options.processes < 2:
        return 0, "off"
    budget = options.ci_budget_s if options.ci_budget_s is not None else first_passes_s
    started, added = time.monotonic(), 0
    for number in range(options.processes, max(most, options.processes)):
        wide = {c.id for c in _mark(writer, cases, target)}
        if not wide:
            return added, "every case met the target"
        if time.monotonic() - started >= budget:
            return added, f"the {budget:.0f} s budget (--ci-budget) was spent"
        run_pass(number, _member(wide))
        added += 1
    left = len(_mark(writer, cases, target))
    if not left:
        return added, "every case met the target"
    return added, f"{left} case(s) reached --max-processes {most}"


def summary_line(writer: RunWriter, target: float, added: int, why: str) -> str:
    """How many cases met the precision target, after how many added passes, and why it ended."""
    marks = [c.get("precision") for c in writer.manifest["cases"]]
    judged = [m for m in marks if m]
    met = sum(bool(m["met"]) for m in judged)
    return (f"precision: {met}/{len(judged)} case(s) within ±{target:.0%} (--ci-target) after "
            f"{added} added pass(es); stopped: {why}")  # fmt: skip
