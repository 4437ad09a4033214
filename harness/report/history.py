"""History: each case's throughput night by night, with the steps ``analysis.history`` found.

The series are drawn from the rows (every native night, noisy ones included and marked), so
the chart still shows trends when change-point detection is unavailable; the detector only
adds markers, matched by run id and case label. Throughput is shown relative to the series'
first night, so hosts of very different speed share one axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.analysis.history import Detector, history
from harness.keys import CASE_FIELDS, CaseKey
from harness.report.data import ReportData
from harness.report.figures import Chart, axis, chart, layout, meta
from harness.report.format import esc, group, num
from harness.report.tables import Filters
from harness.results import Run

MIN_NIGHTS = 2
CASE = ("kind", *CASE_FIELDS)
StepKey = tuple[str, str]  # run id, case label


@dataclass
class Trends:
    """The history charts, and one line on how (or whether) steps were looked for."""

    charts: list[Chart] = field(default_factory=list)
    note: str = ""
    steps: int = 0


def detect(runs: Sequence[Run]) -> tuple[dict[StepKey, tuple[float, float]], str]:
    """Steps by (run id, case label): (time ratio, p-value); and a note on the detection."""
    found = history(list(runs))
    least = 2 * Detector().min_size
    steps = {(step.run_id, series.case): (step.ratio, step.p_value) for series, step in found.steps}
    longest = max((len(s.nights) for s in found.series), default=0)
    note = (f"Change points from analysis.history (permutation test, alpha {found.alpha:g}, "
            f"steps over {found.threshold:.0%}); {len(steps)} found.")  # fmt: skip
    if longest < least:
        note += (f" A step needs at least {least} nights ({least // 2} on each side); the "
                 f"longest series here has {longest}, so none can be marked yet.")  # fmt: skip
    return steps, note


def _series(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Valid native rows per kind of machine and case, oldest night first, two or more."""
    valid = [r for r in rows if r["ok"] and not r["emulated"]]
    return [found for found in group(valid, *CASE).values()
            if len({r["run_id"] for r in found}) >= MIN_NIGHTS]  # fmt: skip


def _trace(rows: list[dict[str, Any]], name: str, color: str, nights: list[str]) -> dict[str, Any]:
    first = rows[0]["tput"]
    hover = [[esc(r["run_id"]), " (noisy host)" if r["noisy"] else ""] for r in rows]
    return {
        "type": "scatter", "mode": "lines+markers", "name": esc(name), "legendgroup": esc(name),
        "x": nights, "y": [num(r["tput"] / first) for r in rows], "line": {"color": color},
        "marker": {"symbol": ["circle-open" if r["noisy"] else "circle" for r in rows]},
        "customdata": hover, "meta": meta(rows[0], category=True),
        "hovertemplate": f"{esc(name)}<br>%{{x}}<br>%{{y:.3f}}x first night"
                         "<br>run %{customdata[0]}%{customdata[1]}<extra></extra>",
    }  # fmt: skip


def _marks(trace: dict[str, Any], hits: list[tuple[int, float, float]]) -> dict[str, Any]:
    """Red crosses on the nights a step starts, with its size and p-value."""
    return {
        "type": "scatter", "mode": "markers", "name": "change point", "legendgroup": "steps",
        "x": [trace["x"][i] for i, _, _ in hits], "y": [trace["y"][i] for i, _, _ in hits],
        "marker": {"symbol": "x", "size": 14, "color": "#d93025", "line": {"width": 2}},
        "customdata": [[f"{r:.3f}", f"{p:.2g}", "slower" if r > 1 else "faster"]
                       for _, r, p in hits],
        "meta": trace["meta"] | {"role": "step"},
        "hovertemplate": "step: time x%{customdata[0]} (%{customdata[2]}), "
                         "p=%{customdata[1]}<extra></extra>",
    }  # fmt: skip


def when(created: str, run_id: str) -> str:
    """A night as plotly reads dates (UTC, no offset); the run id when the time is unknown."""
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return run_id
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _name(first: dict[str, Any], several: bool) -> str:
    """The series' target, and its case (size, mode, threads) when the chart holds others."""
    suffix = f" · {first['size']}/{first['mode']}/t{first['threads']}"
    suffix += "" if first["profile"] == "native" else f" [{first['profile']}]"
    return f"{first['target']} ({first['arch']})" + (suffix if several else "")


def _workload_chart(index: int, data: ReportData, groups: list[list[dict[str, Any]]],
                    steps: dict[StepKey, tuple[float, float]]) -> tuple[Chart, int]:  # fmt: skip
    """One workload's series, with a cross on each night a step starts."""
    several = len({CaseKey.of(g[0]) for g in groups}) > 1  # one workload: other cases too?
    traces: list[dict[str, Any]] = []
    marked = 0
    for rows in groups:
        head = rows[0]
        label = CaseKey.of(head).label
        nights = [when(data.runs[r["run_id"]].created if r["run_id"] in data.runs else "",
                       str(r["run_id"])) for r in rows]  # fmt: skip
        trace = _trace(rows, _name(head, several), data.colors[str(head["label"])], nights)
        traces.append(trace)
        hits = [(i, *steps[(str(r["run_id"]), label)]) for i, r in enumerate(rows)
                if (str(r["run_id"]), label) in steps]  # fmt: skip
        if hits:
            traces.append(_marks(trace, hits) | {"showlegend": not marked})
            marked += len(hits)
    workload = str(groups[0][0]["workload"])
    fig_layout = layout(f"History: {workload}", xaxis=axis("night"),
                        yaxis=axis("throughput vs first night"))  # fmt: skip
    found = Filters(str(groups[0][0]["category"]), "", "")
    figure = {"data": traces, "layout": fig_layout}
    return chart(f"history-{index}", f"History of {workload}", figure, found), marked


def history_charts(data: ReportData, runs: Sequence[Run] | None) -> Trends:
    """One chart per workload with more than one night, steps marked where found."""
    if not runs:
        return Trends(note="History needs the run directories (for their dates); none given.")
    series = _series(data.rows)
    if not series:
        return Trends(note="Each host kind ran each case once: no history to show.")
    steps, note = detect([r for r in runs if not r.environment.get("emulated")])
    by_workload: dict[str, list[list[dict[str, Any]]]] = {}
    for rows in series:
        by_workload.setdefault(str(rows[0]["workload"]), []).append(rows)
    out = Trends(note=note)
    for index, (_, groups) in enumerate(sorted(by_workload.items())):
        found, marked = _workload_chart(index, data, groups, steps)
        out.charts.append(found)
        out.steps += marked
    return out
