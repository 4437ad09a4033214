"""Adaptive replication: add worker processes to the cases whose interval is still too wide.

The process is the replicate (``harness.measure.sample_stats``), so a case's interval narrows
only with more processes, about as 1 / sqrt(K). After the ``--processes`` passes, each case whose
95% interval is wider than ``--ci-target`` (its relative half-width) runs more processes, pass
after pass, until every case meets the target, a case reaches ``--max-processes``, or the added
passes have spent ``--ci-budget`` seconds. Forked replicates (``--replicates fork``) cost a
fraction of a fresh interpreter, so a pass adds as many as the interval suggests are missing;
fresh ones come one a pass. Each case records the target, the half-width it
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

RunPass = Callable[[int, dict[str, int]], None]


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


def _processes(writer: RunWriter, case: Case) -> int:
    return CaseResult.from_json(writer.case(case.id)).processes


def _state(writer: RunWriter, options: Any, first_passes_s: float) -> dict[str, Any]:
    """The run's adaptive record (manifest ``adaptive``): budget, seconds spent, why it stopped.

    Kept in the manifest so that ``--resume`` of a run interrupted in an added pass continues
    with the budget that was left rather than a new one.
    """
    state: dict[str, Any] = writer.manifest.setdefault("adaptive", {})
    if "budget_s" not in state:
        budget = options.ci_budget_s if options.ci_budget_s is not None else first_passes_s
        state.update(budget_s=float(budget), spent_s=0.0)
    return state


def unfinished(manifest: dict[str, Any], options: Any) -> set[str]:
    """Ids of the cases an interrupted run still owed added processes (for ``--resume``)."""
    state = manifest.get("adaptive") or {}
    if not options.ci_target or options.processes < 2 or "stopped" in state or not state:
        return set()
    return {c["id"] for c in manifest["cases"] if (c.get("precision") or {}).get("met") is False
            and CaseResult.from_json(c).processes < options.max_processes}  # fmt: skip


def _repeats(writer: RunWriter, wide: Sequence[Case], options: Any) -> dict[str, int]:
    """Processes to add to each wide case this pass: one a pass for fresh interpreters; forked
    ones are cheap, so as many as the interval suggests it lacks (a half-width shrinks about
    as 1 / sqrt(K)), at most doubling the case's processes and never past ``max_processes``."""
    out = {}
    for case in wide:
        have = _processes(writer, case)
        width = half_width(writer.case(case.id))
        need = have * (width / options.ci_target) ** 2 - have if math.isfinite(width) else have
        more = max(1, min(math.ceil(need), have, options.max_processes - have))
        out[case.id] = more if options.replicates == "fork" else 1
    return out


def _stop(writer: RunWriter, state: dict[str, Any], added: int, why: str) -> tuple[int, str]:
    state["stopped"] = why
    writer.flush()
    return added, why


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
    state, added = _state(writer, options, first_passes_s), 0
    for _ in range(max(most - options.processes, 0)):
        wide = [c for c in _mark(writer, cases, target) if _processes(writer, c) < most]
        if not wide:
            break
        if state["spent_s"] >= state["budget_s"]:
            return _stop(writer, state, added, f"the {state['budget_s']:.0f} s budget "
                         "(--ci-budget) was spent")  # fmt: skip
        started = time.monotonic()
        run_pass(min(_processes(writer, c) for c in wide), _repeats(writer, wide, options))
        state["spent_s"] += time.monotonic() - started
        added += 1
        writer.flush()
    left = len(_mark(writer, cases, target))
    if not left:
        return _stop(writer, state, added, "every case met the target")
    return _stop(writer, state, added, f"{left} case(s) reached --max-processes {most}")


def summary_line(writer: RunWriter, target: float, added: int, why: str) -> str:
    """How many cases met the precision target, after how many added passes, and why it ended."""
    marks = [c.get("precision") for c in writer.manifest["cases"]]
    judged = [m for m in marks if m]
    met = sum(bool(m["met"]) for m in judged)
    return (f"precision: {met}/{len(judged)} case(s) within ±{target:.0%} (--ci-target) after "
            f"{added} added pass(es); stopped: {why}")  # fmt: skip
