"""What a run prints: a finished case, the price match, the measured limits, each in a line."""

from __future__ import annotations

import math
from typing import Any

from harness.records import CaseResult
from harness.units import with_unit
from harness.untrusted import terminal


def case_line(case: dict[str, Any]) -> str:
    """One finished case as a progress line: throughput, its interval's half-width (or why it
    has none), compile time, and how many processes and rounds it rests on."""
    result = CaseResult.from_json(case)
    case_id = terminal(result.id)  # a result's strings are data, never markup (untrusted.py)
    if not result.ok or result.stats is None:
        return f"[red]✗[/] {case_id}  [red]{terminal(result.error)}[/]"
    time = result.stats.time
    spread = (time.high - time.low) / 2 / time.value
    interval = f"±{spread:.1%}" if math.isfinite(spread) else "[yellow]no interval[/]"
    unit = terminal(f"{result.plan.get('unit')}/s")
    noisy = "  [yellow]noisy host[/]" if result.noisy else ""
    count = result.processes
    processes = f"{count} process" + ("es" if count > 1 else ": not judged")
    return (
        f"[green]✓[/] {case_id}  {with_unit(result.throughput, unit)} {interval}  "
        f"(compile {result.outcome.get('compile_s', math.nan):.2f} s, {processes}, "
        f"{result.stats.rounds} rounds){noisy}"
    )


def match_line(match: Any) -> str:
    """Which catalog row prices this host, with the price's provenance, or why none does."""
    target = match.target
    if target is None or target.price_per_hour != target.price_per_hour:
        return f"[yellow]unpriced[/]: {terminal(match.reason)}"
    return terminal(
        f"priced as {target.type} at ${target.price_per_hour:g}/h ({target.price_kind}, "
        f"{target.region or 'no region'}, {target.price_date or 'undated'}, "
        f"{target.price_source}): {match.reason}"
    )


def roofline_line(roofline: dict[str, Any]) -> str:
    """The measured limits in one line."""
    if "error" in roofline:
        return f"[yellow]limits not measured[/]: {terminal(roofline['error'])}"
    parts = []
    for key, label in (("triad_gbs", "GB/s triad"), ("fma_gflops", "GFLOP/s FMA"),
                       ("sgemm_gflops", "GFLOP/s SGEMM")):  # fmt: skip
        values = ", ".join(f"{v:.3g} @{t}t" for t, v in roofline[key].items())
        parts.append(f"{label} {values}")
    return "limits: " + "; ".join(parts)
