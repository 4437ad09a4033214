"""The summary's words: a ratio in two digits, a verdict sentence that claims a difference only
when its interval excludes 1, and a best target named only where intervals separate."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.measure.sample_stats import judged
from harness.pricing.summary import geomean_estimate
from harness.report.format import ratio, rows_of
from harness.units import MISSING


def _x(value: float) -> str:
    """Two significant digits, zeros kept: 2.0, 0.88, 1.4."""
    return format(value, "#.2g").rstrip(".")


def words(category: str) -> str:
    return "all workloads" if category == "all" else f"{category} workloads"


def sentence(target: str, baseline: str, what: str, r: dict[str, Any]) -> str:
    """One verdict: a difference only when the interval excludes 1."""
    g = geomean_estimate(r)
    value, low, high, n = g.value, g.low, g.high, g.n
    where = words(str(r["category"]))
    if not g.has_interval:
        why = g.method if not judged(g.method) else f"from {n} case only: too few for an interval"
        return f"{target}: {_x(value)}x the {what} of {baseline} on {where}; {why}."
    interval = f"{g.confidence:.0%} CI {_x(low)}\u2013{_x(high)}, {n} cases"
    if low <= 1.0 <= high:
        return (f"{target}: no clear difference in {what} from {baseline} on {where} "
                f"({_x(value)}x, {interval}).")  # fmt: skip
    return f"{target}: {_x(value)}x the {what} of {baseline} on {where} ({interval})."


def top(part: pd.DataFrame, category: str, baseline: str) -> str:
    rows = [r for r in rows_of(part) if r["category"] == category]
    if not rows:
        return MISSING
    ranked = sorted(rows, key=lambda r: r["geomean"], reverse=True)
    top, best = ranked[0], geomean_estimate(ranked[0])
    said = f"{top['group']}: {ratio(best)} {baseline}"
    for other in ranked[1:]:  # named only when its interval clears every other target's
        rival = geomean_estimate(other)
        if not (best.has_interval and rival.has_interval) or best.low <= rival.high:
            return f"no clear winner ({said}; {other['group']}: {ratio(rival)}, overlapping)"
    return said
