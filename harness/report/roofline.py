"""Roofline and compile-profile figures: how close each workload gets to the host's own limits,
and what each compile profile (the ISA ablation) buys.

The roofs are the ones measured in the same run (triad bandwidth, FMA peak, SGEMM), read from
the run's manifest: a vendor's datasheet peak would flatter every workload on the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.keys import CASE_FIELDS
from harness.pricing.rows import CACHE_RESIDENT, INTEGER
from harness.report.data import ReportData, RunInfo
from harness.report.figures import Chart, axis, chart, layout, meta, native_first
from harness.report.format import Figure, esc, group, num, text
from harness.report.tables import Filters, filters, status_label, status_text
from harness.units import MISSING, finite, seconds, si

SYMBOLS = {"speed": "circle-open", "rate": "circle"}
CACHE_NOTE = "cache-resident: its bytes fit in the last-level cache, not read against DRAM"


def _roofs(roofline: dict[str, Any]) -> list[tuple[int, float, float, float | None]]:
    """(threads, bandwidth GB/s, FMA GFLOP/s, SGEMM GFLOP/s) per measured thread count."""
    out = []
    for key in sorted(roofline.get("triad_gbs") or {}, key=lambda k: int(k)):
        bw = num(roofline["triad_gbs"].get(key))
        peak = num((roofline.get("fma_gflops") or {}).get(key))
        gemm = num((roofline.get("sgemm_gflops") or {}).get(key))
        if bw is not None and peak is not None and bw > 0 and peak > 0:
            out.append((int(key), bw, peak, gemm))
    return out


def _roof_traces(roofs: list[tuple[int, float, float, float | None]], lo: float, hi: float,
                 top: int) -> list[dict[str, Any]]:  # fmt: skip
    """The bandwidth roof up to the ridge, the FMA peak after it, SGEMM dotted; one thread
    dashed."""
    traces = []
    for threads, bw, peak, gemm in roofs:
        ridge, dash = peak / bw, "solid" if threads == top else "dash"
        t = f"{threads} thread{'' if threads == 1 else 's'}"
        lines = [
            (f"triad bandwidth {bw:.3g} GB/s, {t}", [lo, ridge], [bw * lo, peak], "#1967d2"),
            (f"FMA peak {peak:.4g} GFLOP/s, {t}", [ridge, hi], [peak, peak], "#d93025"),
        ]
        if gemm is not None:
            lines.append((f"SGEMM {gemm:.4g} GFLOP/s, {t}", [lo, hi], [gemm, gemm], "#188038"))
        for name, x, y, color in lines:
            style = "dot" if name.startswith("SGEMM") else dash
            traces.append({"type": "scatter", "mode": "lines", "name": esc(name), "x": x, "y": y,
                           "line": {"color": color, "dash": style, "width": 1.5},
                           "hoverinfo": "name"})  # fmt: skip
    return traces


def _gflops(r: dict[str, Any]) -> float:
    if finite(r.get("gflops")) and r["gflops"] > 0:
        return float(r["gflops"])
    return float(r["flops"]) / float(r["median_s"]) / 1e9


def _reading(r: dict[str, Any]) -> str:
    """A case's fraction of its roof, or why it has none: from cache, it may beat DRAM."""
    if finite(r.get("attained")):
        return f"{r['attained']:.0%} of its roof"
    return CACHE_NOTE if r.get("roof_limit") == CACHE_RESIDENT else ""


def _point_traces(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One trace per category: x arithmetic intensity, y attained GFLOP/s."""
    top: dict[str, tuple[int, int]] = {}  # the whole-instance point of a workload is named
    for r in rows:
        if r["mode"] == "rate" and r["threads"] >= top.get(r["workload"], (0, 0))[0]:
            top[r["workload"]] = (r["threads"], id(r))
    traces = []
    for (category,), found in group(rows, "category").items():
        attained = [_reading(r) for r in found]
        traces.append({
            "type": "scatter", "mode": "markers+text", "name": esc(category),
            "x": [r["flops"] / r["bytes"] for r in found], "y": [_gflops(r) for r in found],
            "text": [esc(r["workload"]) if top.get(r["workload"], (0, 0))[1] == id(r) else ""
                     for r in found], "textposition": "middle right",
            "marker": {"size": 10,
                       "symbol": [SYMBOLS.get(str(r["mode"]), "square") for r in found]},
            "customdata": [[esc(f"{r['workload']} ({r['size']}, {r['mode']}, {r['threads']} "
                                f"threads)"), esc(a)]
                           for r, a in zip(found, attained, strict=True)],
            "meta": meta(found[0], category=True),
            "hovertemplate": "%{customdata[0]}<br>%{x:.3g} flop/byte<br>%{y:.4g} GFLOP/s"
                             "<br>%{customdata[1]}<extra></extra>",
        })  # fmt: skip
    return traces


def _latest_rooflines(data: ReportData) -> dict[str, RunInfo]:
    """Per kind of machine, the newest run that measured its roofline."""
    found: dict[str, RunInfo] = {}
    for r in data.rows:  # oldest run first: later runs replace earlier ones
        info = data.runs.get(str(r["run_id"]))
        if info and _roofs(info.roofline):
            found[str(r["kind"])] = info
    return found


@dataclass
class Rooflines:
    charts: list[Chart]
    unplaced: list[str]
    missing: list[str]


def _roofline_chart(index: int, rows: list[dict[str, Any]], info: RunInfo) -> Chart:
    roofs = _roofs(info.roofline)
    xs = [r["flops"] / r["bytes"] for r in rows]
    ridges = [peak / bw for _, bw, peak, _ in roofs]
    lo, hi = min(xs + ridges) / 8, max(xs + ridges) * 8
    traces = _roof_traces(roofs, lo, hi, max(t for t, *_ in roofs)) + _point_traces(rows)
    head = rows[0]
    title = f"Roofline: {head['target']} ({head['host']}, run {info.run_id})"
    fig_layout = layout(title, height=460, xaxis=axis("arithmetic intensity, flop/byte",
                        type="log"), yaxis=axis("GFLOP/s", type="log"))  # fmt: skip
    found = Filters(None, str(head["arch"]), str(head["cloud"]))
    return chart(f"roofline-{index}", title, {"data": traces, "layout": fig_layout}, found)


def roofline_charts(data: ReportData) -> Rooflines:
    """One log-log roofline per kind of machine, its valid cases placed on it."""
    out = Rooflines([], [], [])
    valid = [r for r in data.cur if r["ok"]]
    placed = [r for r in valid if finite(r["flops"]) and finite(r["bytes"])
              and r["flops"] > 0 and r["bytes"] > 0 and r["bound"] != INTEGER]  # fmt: skip
    integer = {str(r["workload"]) for r in valid if r["bound"] == INTEGER}
    out.unplaced = sorted(
        f"{name} (integer work: no FLOP roof)" if name in integer else name
        for name in {str(r["workload"]) for r in valid} - {str(r["workload"]) for r in placed}
    )
    latest = _latest_rooflines(data)
    for (kind,), rows in group(placed, "kind").items():
        rows = native_first(rows)
        if kind not in latest:
            out.missing.append(f"{rows[0]['target']} ({rows[0]['host']})")
            continue
        out.charts.append(_roofline_chart(len(out.charts), rows, latest[kind]))
    return out


@dataclass(frozen=True)
class ProfileRow:
    """One case under one compile profile: what code came out, and what it cost to make."""

    target: str
    workload: str
    size: str
    mode: str
    threads: int
    profile: str
    isa: str
    throughput: str
    relative: str
    median: str
    compile: str
    cache_load: str
    status: str
    filters: Filters


CASE = ("kind", *(f for f in CASE_FIELDS if f != "profile"))  # profiles of one case side by side


def _ablations(cur: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Cases that ran under two or more profiles on one kind of machine, profiles sorted."""
    return [sorted(rows, key=lambda r: str(r["profile"])) for rows in group(cur, *CASE).values()
            if len({r["profile"] for r in rows}) > 1]  # fmt: skip


def _reference(rows: list[dict[str, Any]]) -> float:
    """Throughput of the case under 'native' (else its first valid profile)."""
    valid = [r for r in rows if r["ok"]]
    native = [r for r in valid if r["profile"] == "native"]
    pick = native or valid
    return float(pick[0]["tput"]) if pick else math.nan


def _profile_row(r: dict[str, Any], ref: float) -> ProfileRow:
    ok = bool(r["ok"])
    shown = (f"{si(r['tput'])} {text(r['unit'])}/s", f"{r['tput'] / ref:.3g}x" if finite(ref)
             else MISSING, seconds(r["median_s"]), seconds(r["compile_s"]),
             seconds(r["cache_load_s"])) if ok else (MISSING,) * 5  # fmt: skip
    return ProfileRow(str(r["target"]), text(r["workload"]), text(r["size"]), text(r["mode"]),
                      int(r["threads"]), text(r["profile"]), text(r["vector_isa"]), *shown,
                      status_text(r), filters(r))  # fmt: skip


def profile_rows(cur: list[dict[str, Any]]) -> list[ProfileRow]:
    return [_profile_row(r, _reference(rows)) for rows in _ablations(cur) for r in rows]


def _profile_bars(profile: str, found: list[dict[str, Any]], several: bool) -> dict[str, Any]:
    """One profile's bars; a failed (or unfinished) case is a zero-height bar saying so."""
    names = [f"{r['workload']} ({r['size']}, {r['mode']}, t{r['threads']})" if several
             else r["workload"] for r in found]  # fmt: skip
    return {
        "type": "bar", "name": esc(profile), "x": [esc(n) for n in names],
        "y": [num(r["tput"] / r["_ref"]) if r["ok"] else 0 for r in found],
        "text": [esc(text(r["vector_isa"])) if r["ok"] else esc(status_label(r)) for r in found],
        "textposition": "outside", "meta": meta(found[0]),
        "customdata": [[esc(text(r["error"])) if not r["ok"] else ""] for r in found],
        "hovertemplate": f"{esc(profile)}<br>%{{x}}<br>%{{y:.3g}}x native<br>%{{text}} "
                         "%{customdata[0]}<extra></extra>",
    }  # fmt: skip


def _profile_figure(target: str, cases: list[list[dict[str, Any]]]) -> Figure:
    """Bars per profile: throughput relative to native, the vector ISA written on each bar."""
    several = len({(c[0]["workload"], c[0]["size"], c[0]["mode"], c[0]["threads"])
                   for c in cases}) > len({c[0]["workload"] for c in cases})  # fmt: skip
    points = [r | {"_ref": _reference(rows)} for rows in cases for r in rows]
    traces = [_profile_bars(str(profile), found, several)
              for (profile,), found in group(points, "profile").items()]  # fmt: skip
    fig_layout = layout(f"Profiles: {target}", barmode="group",
                        xaxis=axis("", type="category"),
                        yaxis=axis("throughput vs native profile", rangemode="tozero"))  # fmt: skip
    return {"data": traces, "layout": fig_layout}


def profile_charts(cur: list[dict[str, Any]]) -> list[Chart]:
    by_target: dict[str, list[list[dict[str, Any]]]] = {}
    for rows in _ablations(cur):
        by_target.setdefault(str(rows[0]["target"]), []).append(rows)
    charts: list[Chart] = []
    for target, cases in sorted(by_target.items()):
        head = cases[0][0]
        found = Filters(None, str(head["arch"]), str(head["cloud"]))
        charts.append(chart(f"profiles-{len(charts)}", f"Compile profiles on {target}",
                            _profile_figure(target, cases), found))  # fmt: skip
    return charts
