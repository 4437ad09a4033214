"""Plotly figures as plain dicts: per-workload bars, performance against price, scaling.

Figures are built as JSON-ready dicts rather than ``plotly.graph_objects``: validating a few
hundred figures of a nightly report costs seconds and buys nothing the browser tests do not
check. Every label goes through ``esc``; a trace's ``meta`` carries the raw filter keys
(arch, cloud, category) that the page's script compares, and plotly never renders it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from markupsafe import Markup

from harness.measure.sample_stats import Estimate
from harness.pricing.arithmetic import throughput_estimate
from harness.pricing.summary import geomean_estimate
from harness.report.data import ARCH_COLORS, ReportData
from harness.report.format import (
    COST_TICKS,
    CostScale,
    Figure,
    cost_scale,
    dump,
    esc,
    group,
    num,
    rows_of,
    text,
)
from harness.report.summary import Summary
from harness.report.tables import Filters
from harness.units import finite

GRID = "#e5e5e5"
HOVER = "%{customdata[0]}<br>%{x}<br>%{y:.4s} "


@dataclass(frozen=True)
class Chart:
    """One figure: its div id, an accessible title, its escaped JSON and filter keys."""

    dom_id: str
    title: str
    figure_json: Markup
    filters: Filters


def chart(dom_id: str, title: str, figure: Figure, filters: Filters | None = None) -> Chart:
    return Chart(dom_id, title, dump(figure), filters or Filters(None, "", ""))


def meta(row: dict[str, Any], category: bool = False) -> dict[str, str]:
    """The keys the page's filters read from a trace."""
    found = {"arch": str(row["arch"]), "cloud": str(row["cloud"])}
    return found | ({"category": str(row["category"])} if category else {})


def axis(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": esc(title)}, "gridcolor": GRID, "zerolinecolor": GRID,
            "automargin": True, **extra}  # fmt: skip


def layout(title: str, height: int = 420, **extra: Any) -> dict[str, Any]:
    """A white, compact layout with the legend below the plot."""
    return {
        "title": {"text": esc(title)}, "height": height, "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"},
        "margin": {"l": 64, "r": 20, "t": 56, "b": 72}, "hovermode": "closest", **extra,
    }  # fmt: skip


def panels(count: int) -> list[list[float]]:
    """Side-by-side x domains: the first panel widest."""
    return {1: [[0.0, 1.0]], 2: [[0.0, 0.6], [0.7, 1.0]],
            3: [[0.0, 0.46], [0.55, 0.76], [0.84, 1.0]]}[count]  # fmt: skip


def panel_title(index: int, domain: Sequence[float], title: str) -> dict[str, Any]:
    return {"text": f"<b>{esc(title)}</b>", "showarrow": False, "xref": "paper", "yref": "paper",
            "x": (domain[0] + domain[1]) / 2, "y": 1.02, "xanchor": "center",
            "yanchor": "bottom", "name": f"panel-{index}"}  # fmt: skip


def category_label(row: dict[str, Any], sized: bool = False) -> str:
    """The x-axis category of a case: mode, thread count, and profile when not native; the
    size first when ``sized`` (the figure holds several: two sizes must not share a bar)."""
    threads = int(row["threads"])
    label = f"{text(row['mode'])}, {threads} thread{'' if threads == 1 else 's'}"
    label = f"{text(row['size'])}, {label}" if sized else label
    profile = row.get("profile")
    return esc(label if profile in (None, "native") else f"{label}, {profile}")


def several_sizes(rows: Sequence[dict[str, Any]]) -> bool:
    return len({text(r["size"]) for r in rows}) > 1


def native_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The native profile's rows when there are any (the other profiles are the ablation)."""
    native = [r for r in rows if r["profile"] == "native"]
    return native or rows


def _errors(estimates: Sequence[Estimate]) -> dict[str, Any]:
    """Asymmetric plotly error bars from each estimate's interval; none where it has none."""
    plus = [num(e.high - e.value) if finite(e.high) else None for e in estimates]
    minus = [num(e.value - e.low) if finite(e.low) else None for e in estimates]
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus}


def _bars(rows: list[dict[str, Any]], label: str, color: str, unit: str,
          sized: bool) -> dict[str, Any]:  # fmt: skip
    """One bar per (size, mode, threads, profile) of one host, with asymmetric CI error bars."""
    rates = [throughput_estimate(r) for r in rows]
    values = [r.value for r in rates]
    return {
        "type": "bar", "name": esc(label), "legendgroup": esc(label), "marker": {"color": color},
        "x": [category_label(r, sized) for r in rows], "y": values,
        "error_y": _errors(rates),
        "customdata": [[esc(label)]] * len(rows), "meta": meta(rows[0]),
        "hovertemplate": HOVER + esc(unit) + "/s<extra></extra>",
    }  # fmt: skip


def _cost_bars(rows: list[dict[str, Any]], label: str, color: str, unit: str, sized: bool,
               scale: CostScale) -> dict[str, Any]:  # fmt: skip
    """One host's cost bars on the workload's scale (per billion tokens, say)."""
    costs = [Estimate.from_columns(r, "usd_per_million").map(scale.of) for r in rows]
    return {
        "type": "bar", "name": esc(label), "legendgroup": esc(label), "showlegend": False,
        "marker": {"color": color}, "xaxis": "x2", "yaxis": "y2",
        "x": [category_label(r, sized) for r in rows], "y": [num(c.value) for c in costs],
        "error_y": _errors(costs), "customdata": [[esc(label)]] * len(rows), "meta": meta(rows[0]),
        "hovertemplate": "%{customdata[0]}<br>%{x}<br>$%{y:,.4~r} " + esc(scale.per(unit))
        + "<extra></extra>",
    }  # fmt: skip


def _latency_bars(rows: list[dict[str, Any]], label: str, color: str, axis_: int,
                  sized: bool, several: bool) -> dict[str, Any]:  # fmt: skip
    """p50/p90/p99 of one host; each case named when the panel holds several."""
    x, y = [], []
    for r in rows:
        for p in ("p50", "p90", "p99"):
            x.append(f"{p}, {category_label(r, sized)}" if several else p)
            y.append(num(r[f"{p}_s"] * 1e3))
    return {
        "type": "bar", "name": esc(label), "legendgroup": esc(label), "showlegend": False,
        "marker": {"color": color}, "xaxis": f"x{axis_}", "yaxis": f"y{axis_}", "x": x, "y": y,
        "customdata": [[esc(label)]] * len(x), "meta": meta(rows[0]),
        "hovertemplate": "%{customdata[0]}<br>%{x}<br>%{y:.4g} ms per step<extra></extra>",
    }  # fmt: skip


def _panel_traces(kind: str, part: list[dict[str, Any]], index: int, colors: dict[str, str],
                  unit: str, sized: bool, scale: CostScale) -> list[dict[str, Any]]:  # fmt: skip
    """The cost or the latency panel's bars, one trace per host."""
    several = len({category_label(r, sized) for r in part}) > 1
    traces = []
    for (label,), rows in group(part, "label").items():
        color = colors[str(label)]
        trace = (_cost_bars(rows, str(label), color, unit, sized, scale) if kind == "cost"
                 else _latency_bars(rows, str(label), color, index, sized, several))  # fmt: skip
        traces.append(trace | {"xaxis": f"x{index}", "yaxis": f"y{index}"})
    return traces


def workload_figure(workload: str, cases: list[dict[str, Any]], colors: dict[str, str]) -> Figure:
    """Throughput per host (CI error bars); cost (on the workload's scale) and step latency."""
    unit = text(cases[0]["unit"])
    valid = [r for r in cases if r["ok"]]
    scale = cost_scale(cases)
    extra = [
        ("cost", [r for r in valid if finite(r["usd_per_million"])]),
        ("latency", native_first([r for r in valid if finite(r["p50_s"])])),
    ]
    extra = [(kind, part) for kind, part in extra if part]
    domains = panels(1 + len(extra))
    sized = several_sizes(valid)
    data = [_bars(rows, str(label), colors[str(label)], unit, sized)
            for (label,), rows in group(valid, "label").items()]  # fmt: skip
    fig_layout = layout(workload, barmode="group",
                        xaxis=axis("", type="category", domain=domains[0]),
                        yaxis=axis(f"{unit}/s", rangemode="tozero"))  # fmt: skip
    notes = [panel_title(1, domains[0], "throughput")] if extra else []
    for index, (kind, part) in enumerate(extra, start=2):
        data += _panel_traces(kind, part, index, colors, unit, sized, scale)
        cost = kind == "cost"
        fig_layout[f"xaxis{index}"] = axis("", type="category", domain=domains[index - 1],
                                          anchor=f"y{index}")  # fmt: skip
        fig_layout[f"yaxis{index}"] = axis(f"USD {scale.per(unit)}" if cost else "",
                                          anchor=f"x{index}", rangemode="tozero",
                                          **(COST_TICKS if cost else {}))  # fmt: skip
        title = f"cost, USD {scale.per(unit)}" if cost else "step latency, ms"
        notes.append(panel_title(index, domains[index - 1], title))
    if not valid:
        failed = any(r["state"] == "failed" for r in cases)
        notes.append({"text": "no valid measurements" if failed else "not measured yet",
                      "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper",
                      "yref": "paper"})  # fmt: skip
    return {"data": data, "layout": fig_layout | {"annotations": notes}}


def workload_charts(data: ReportData) -> list[Chart]:
    """One chart per workload, in name order (failed cases are not drawn)."""
    charts = []
    for index, ((workload,), cases) in enumerate(group(data.cur, "workload").items()):
        figure = workload_figure(str(workload), cases, data.colors)
        found = Filters(str(cases[0]["category"]), "", "")
        charts.append(chart(f"chart-{index}", f"Throughput of {workload}", figure, found))
    return charts


def pareto(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no cheaper-or-equal point beats: the most throughput for the money."""
    frontier: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if not frontier or y > frontier[-1][1]:
            frontier.append((x, y))
    return frontier


def _price_point(r: dict[str, Any], g: dict[str, Any], legend: bool) -> dict[str, Any]:
    """One priced target: hourly price against its geomean relative throughput."""
    x, y = float(r["price_per_hour"]), float(g["geomean"])
    return {
        "type": "scatter", "mode": "markers+text", "name": esc(r["arch"]),
        "legendgroup": esc(r["arch"]), "showlegend": legend,
        "x": [x], "y": [y], "text": [esc(r["target"])], "textposition": "top center",
        "marker": {"size": 11, "color": ARCH_COLORS.get(str(r["arch"]), "#555"),
                   "symbol": "diamond" if r["arch"] == "aarch64" else "circle"},
        "error_y": _errors([geomean_estimate(g)]),
        "meta": meta(r) | {"role": "point"},
        "hovertemplate": f"{esc(r['target'])}<br>$%{{x:.4g}}/h<br>%{{y:.3g}}x<extra></extra>",
    }  # fmt: skip


def price_chart(summary: Summary, data: ReportData) -> Chart | None:
    """Geomean relative throughput against hourly price per target, Pareto frontier drawn."""
    part = summary.frames.get(("throughput", "rate"), pd.DataFrame())
    if part.empty:
        return None
    overall = {str(r["group"]): r for r in rows_of(part) if r["category"] == "all"}
    priced = [r for r in data.cur if finite(r["price_per_hour"]) and r["target"] in overall]
    traces, seen = [], set()
    for (_,), rows in group(priced, "target").items():
        traces.append(
            _price_point(rows[0], overall[rows[0]["target"]], rows[0]["arch"] not in seen)
        )
        seen.add(rows[0]["arch"])
    if not traces:
        return None
    points = [(t["x"][0], t["y"][0]) for t in traces]
    front = pareto(points)
    front.append((max(x for x, _ in points), front[-1][1]))  # best buy up to the dearest price
    traces.append({"type": "scatter", "mode": "lines", "name": "Pareto frontier",
                   "x": [p[0] for p in front], "y": [p[1] for p in front],
                   "line": {"dash": "dash", "color": "#444", "shape": "hv"},
                   "meta": {"role": "frontier"}, "hoverinfo": "skip"})  # fmt: skip
    fig_layout = layout("Throughput against price",
                        xaxis=axis("price per hour, USD", rangemode="tozero"),
                        yaxis=axis(f"throughput vs {summary.baseline} (geomean, rate mode)",
                                   rangemode="tozero"))  # fmt: skip
    figure = {"data": traces, "layout": fig_layout}
    return chart("price-0", "Throughput against hourly price", figure)
