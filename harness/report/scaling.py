"""Scaling: throughput, per vCPU and per physical core against threads, for hosts that swept.

A ``--threads 1,2,4,all`` sweep shows where a workload stops scaling per vCPU, and a dotted
line at the physical core count shows where SMT threads begin (on x86 they share a core's
execution units; Graviton and Axion have none).
"""

from __future__ import annotations

from typing import Any

from harness.pricing.arithmetic import busy_cores, per_unit
from harness.report.data import ReportData
from harness.report.figures import (
    Chart,
    axis,
    chart,
    layout,
    meta,
    native_first,
    panel_title,
    panels,
    several_sizes,
)
from harness.report.format import esc, group, num, text
from harness.report.tables import Filters
from harness.units import finite


def _scaling_values(r: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    """Throughput, per busy vCPU and per busy physical core of one row."""
    vcpu = r["throughput_per_vcpu"]
    vcpu = vcpu if finite(vcpu) else per_unit(r["tput"], r["threads"])
    core = r.get("throughput_per_core")
    if not finite(core) and finite(r["physical_cores"]):
        core = per_unit(r["tput"], busy_cores(int(r["threads"]), int(r["physical_cores"])))
    return num(r["tput"]), num(vcpu), num(core)


def _scaling_traces(label: str, rows: list[dict[str, Any]], color: str) -> list[dict[str, Any]]:
    """One line per panel (throughput, per vCPU, per core) of one host's sweep."""
    rows = sorted(rows, key=lambda r: r["threads"])
    values = [_scaling_values(r) for r in rows]
    lines = [{
        "type": "scatter", "mode": "lines+markers", "name": esc(label), "legendgroup": esc(label),
        "showlegend": i == 0, "line": {"color": color}, "meta": meta(rows[0]),
        "x": [r["threads"] for r in rows], "y": [v[i] for v in values],
        "xaxis": f"x{i + 1 if i else ''}", "yaxis": f"y{i + 1 if i else ''}",
        "hovertemplate": f"{esc(label)}<br>%{{x}} threads<br>%{{y:.4s}}<extra></extra>",
    } for i in range(3)]  # fmt: skip
    return lines + _smt_knee(label, rows, lines, color)


def _smt_knee(label: str, rows: list[dict[str, Any]], lines: list[dict[str, Any]],
              color: str) -> list[dict[str, Any]]:  # fmt: skip
    """A dotted line at the physical core count when the sweep goes past it (SMT threads)."""
    cores = rows[0]["physical_cores"]
    if not finite(cores) or max(r["threads"] for r in rows) <= cores:
        return []
    name = esc(f"{label}: SMT past {int(cores)} core{'' if cores == 1 else 's'}")
    return [{
        "type": "scatter", "mode": "lines", "name": name, "legendgroup": name,
        "showlegend": i == 0, "line": {"color": color, "dash": "dot", "width": 1},
        "x": [cores, cores], "y": [0, max((y for y in line["y"] if y is not None), default=0)],
        "xaxis": line["xaxis"], "yaxis": line["yaxis"], "meta": line["meta"], "hoverinfo": "name",
    } for i, line in enumerate(lines)]  # fmt: skip


def _scaling_layout(workload: str, unit: str) -> dict[str, Any]:
    domains, titles = panels(3), ("throughput", "per vCPU", "per physical core")
    notes = [panel_title(i + 1, d, t) for i, (d, t) in enumerate(zip(domains, titles, strict=True))]
    out = layout(f"Scaling: {workload}", annotations=notes)
    for i, domain in enumerate(domains):
        suffix = str(i + 1) if i else ""
        out[f"xaxis{suffix}"] = axis("threads", domain=domain, anchor=f"y{suffix}", dtick=1)
        out[f"yaxis{suffix}"] = axis(f"{unit}/s" if i == 0 else "", anchor=f"x{suffix}",
                                     rangemode="tozero")  # fmt: skip
    return out


def _sweeps(cases: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """One line per host, size and profile that ran two or more thread counts, by trace name:
    a tiny and a small sweep of one host are two lines, never one zigzag."""
    sized, profiled = several_sizes(cases), len({r["profile"] for r in cases}) > 1
    out = {}
    for (label, size, profile), rows in group(cases, "label", "size", "profile").items():
        if len({r["threads"] for r in rows}) > 1:
            name = f"{label}, {size}" if sized else str(label)
            out[f"{name} [{profile}]" if profiled else name] = rows
    return out


def scaling_charts(data: ReportData) -> list[Chart]:
    """Per workload: throughput, per vCPU and per core against threads, for hosts that swept."""
    rate = native_first([r for r in data.cur if r["ok"] and r["mode"] == "rate"])
    charts: list[Chart] = []
    for (workload,), cases in group(rate, "workload").items():
        swept = _sweeps(cases)
        if not swept:
            continue
        traces = [
            t
            for name, rows in swept.items()
            for t in _scaling_traces(name, rows, data.colors[str(rows[0]["label"])])
        ]
        figure = {"data": traces, "layout": _scaling_layout(str(workload), text(cases[0]["unit"]))}
        found = Filters(str(cases[0]["category"]), "", "")
        charts.append(chart(f"scaling-{len(charts)}", f"Scaling of {workload}", figure, found))
    return charts
