"""The summary: geometric means per target against a baseline, the best target per category,
and verdicts in plain words, each generated from the numbers and their intervals.

The numbers come from ``pricing.summary.suite_summary`` (bootstrap CIs over cases), so the page says
what ``harness`` says elsewhere. A verdict claims a difference only when the interval excludes
1; a target without prices is called "not priced", never given a made-up figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.pricing.summary import geomean_estimate, summary_or_gap
from harness.report.format import ratio, rows_of, usd
from harness.report.tables import Filters, why_unpriced
from harness.report.wording import sentence, top, words
from harness.units import MISSING, finite

DETAILED = 8  # targets up to which each verdict is repeated per category
METRICS = (
    ("throughput", "rate", "Throughput, whole instance (rate mode, all threads)"),
    ("perf_per_dollar", "rate", "Work per dollar (rate mode, every vCPU busy)"),
    ("throughput", "speed", "Single-stream speed (speed mode, one thread)"),
)


@dataclass(frozen=True)
class Cell:
    text: str
    category: str | None
    best: bool = False


@dataclass(frozen=True)
class SummaryRow:
    target: str
    arch: str
    cloud: str
    price: str
    cells: list[Cell]
    baseline: bool
    filters: Filters


@dataclass(frozen=True)
class SummaryTable:
    metric: str
    title: str
    columns: list[str]
    rows: list[SummaryRow]


@dataclass(frozen=True)
class Line:
    """One sentence of the verdict or one 'best per category' entry, with its filter keys."""

    text: str
    filters: Filters


@dataclass(frozen=True)
class Verdict:
    """A target's overall verdict and its per-category sentences."""

    text: str
    parts: list[Line]
    filters: Filters


@dataclass(frozen=True)
class Best:
    """One category's best target by work per dollar and by throughput."""

    category: str
    per_dollar: str
    fastest: str
    filters: Filters


@dataclass
class Summary:
    baseline: str | None
    baseline_note: str
    tables: list[SummaryTable] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    best: list[Best] = field(default_factory=list)
    frames: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)  # why a summary is absent, in words


def _targets(current: pd.DataFrame) -> pd.DataFrame:
    """One row per target with its arch, cloud and price (first priced row, else first row)."""
    valid = current.loc[current["ok"]]
    first = valid.sort_values("price_per_hour", na_position="last").drop_duplicates("target")
    return first.set_index("target")[["arch", "cloud", "price_per_hour", "price_kind"]]


def resolve_baseline(current: pd.DataFrame, name: str | None) -> tuple[str | None, str]:
    """The target relative figures are read against, and a sentence saying how it was chosen."""
    targets = _targets(current)
    if targets.empty:
        return None, "No valid results: nothing to compare."
    if name:
        if name in targets.index:
            return name, f"Baseline: {name} (chosen with --baseline)."
        hits = set(current.loc[(current["run_id"] == name) | (current["host"] == name), "target"])
        if len(hits) == 1:
            found = str(hits.pop())
            return found, f"Baseline: {found} (run or host {name}, chosen with --baseline)."
        known = ", ".join(sorted(map(str, targets.index)))
        raise UserError(f"--baseline {name!r} is no target, run or host of these results "
                        f"(targets: {known})")  # fmt: skip
    priced = targets.loc[targets["price_per_hour"].notna()]
    for pool in (priced.loc[priced["arch"] == "x86_64"], targets.loc[targets["arch"] == "x86_64"],
                 priced, targets):  # fmt: skip
        if not pool.empty:
            pick = str(sorted(pool.index)[0])
            break
    return pick, (f"Baseline: {pick} (the first x86-64 target by default; "
                  "choose another with --baseline).")  # fmt: skip


def _replicates(rows: pd.DataFrame) -> str:
    """What the summary's intervals hold: processes and cases always; runs only when a target
    has several (one instance per type leaves instance-to-instance variation out)."""
    runs = rows.loc[rows["ok"]].groupby("target")["run_id"].nunique()
    pooled = sorted(str(t) for t, n in runs.items() if n > 1)
    if not pooled:
        return (
            "Intervals resample the cases and each case's worker processes. Each target "
            "rests on one run on one instance, so run-to-run and instance-to-instance "
            "variation are not included: pool several runs or instances of a type for them."
        )
    hosts = rows.loc[rows["ok"]].groupby("target")["host"].nunique()
    single = sorted(str(t) for t, n in hosts.items() if n == 1)
    alone = (f" {', '.join(single)} {'rests' if len(single) == 1 else 'rest'} on one instance: "
             "instance-to-instance variation is not included." if single else "")  # fmt: skip
    return (
        f"Intervals resample the cases and each case's worker processes; the runs of "
        f"{', '.join(pooled)} are pooled as replicates (their differences included).{alone}"
    )


def _summaries(
    current: pd.DataFrame, baseline: str
) -> tuple[dict[tuple[str, str], pd.DataFrame], list[str]]:
    """suite_summary per metric, rows of one mode; an empty frame, and why, where nothing
    compares (a bug in the summary raises: it must not become a blank section)."""
    frame = current.assign(throughput=current["tput"])
    out: dict[tuple[str, str], pd.DataFrame] = {}
    noisy = int((current["ok"] & current["noisy"]).sum())
    gaps = [f"{noisy} case measurement(s) of these runs taken while the host was busy (noisy) "
            "are left out of this summary; the latest are marked in the tables below."
            ] if noisy else []  # fmt: skip
    gaps.append(_replicates(current))
    for metric in ("throughput", "perf_per_dollar"):
        result, reason = summary_or_gap(frame, baseline, metric)
        if reason:
            gaps.append(f"{metric.replace('_', ' ')} not summarised: {reason}.")
        for mode in ("rate", "speed"):
            out[(metric, mode)] = result.loc[result["mode"] == mode]
    return out, gaps


def _cell(r: dict[str, Any] | None, column: str, best: float, baseline: bool) -> Cell:
    category = None if column == "all" else column
    if r is None:
        return Cell(MISSING, category)
    if baseline:
        return Cell(f"1x (baseline) n={r['n']}", category)
    top = r["geomean"] == best
    return Cell(f"{ratio(geomean_estimate(r))} n={r['n']}", category, top)


def _table(metric: str, title: str, part: pd.DataFrame, targets: pd.DataFrame,
           baseline: str) -> SummaryTable:  # fmt: skip
    """Targets down (best overall first), 'all' then each category across; best cell marked."""
    columns = ["all", *sorted(c for c in set(part["category"]) if c != "all")]
    found = {(str(r["group"]), str(r["category"])): r for r in rows_of(part)}
    several = len({g for g, _ in found}) > 1
    best = {c: max((r["geomean"] for (_, cat), r in found.items() if cat == c), default=0.0)
            if several else math.inf for c in columns}  # fmt: skip
    order = sorted(
        {g for g, _ in found}, key=lambda g: -found.get((g, "all"), {"geomean": 0})["geomean"]
    )
    rows = []
    for target in order:
        arch, cloud, price = _about(targets, target)
        cells = [_cell(found.get((target, c)), c, best[c], target == baseline) for c in columns]
        rows.append(SummaryRow(target, arch, cloud, price, cells, target == baseline,
                               Filters(None, arch, cloud)))  # fmt: skip
    return SummaryTable(metric, title, columns, rows)


def _about(targets: pd.DataFrame, target: str) -> tuple[str, str, str]:
    """A target's arch, cloud and hourly price (or 'not priced')."""
    if target not in targets.index:
        return "", "", "not priced"
    meta = targets.loc[target]
    price = f"{usd(meta['price_per_hour'])}/h" if finite(meta["price_per_hour"]) else "not priced"
    return str(meta["arch"]), str(meta["cloud"]), price


def _verdicts(summary: Summary, current: pd.DataFrame, targets: pd.DataFrame) -> list[Verdict]:
    """Per target: work per dollar over all workloads, then per category (throughput when
    nothing is priced); an unpriced target is said to be not priced, with the reason."""
    base = str(summary.baseline)
    ppd, tput = summary.frames[("perf_per_dollar", "rate")], summary.frames[("throughput", "rate")]
    use, what = (ppd, "work per dollar") if not ppd.empty else (tput, "throughput")
    found = {(str(r["group"]), str(r["category"])): r for r in rows_of(use)}
    out = []
    if ppd.empty:
        note = f"Work per dollar: not priced ({base} has no priced whole-instance results)."
        out.append(Verdict(note, [], Filters(None, "", "")))
    for target in targets.index:
        if target == base:
            continue
        arch, cloud, _ = _about(targets, str(target))
        where = Filters(None, arch, cloud)
        if (target, "all") not in found:
            if not ppd.empty:
                why = why_unpriced(rows_of(current.loc[current["target"] == target]))
                out.append(Verdict(f"{target}: not priced ({why}).", [], where))
            continue
        parts = [Line(sentence(str(target), base, what, r), Filters(c, arch, cloud))
                 for (g, c), r in sorted(found.items()) if g == target and c != "all"
                 and len(targets) <= DETAILED]  # fmt: skip
        out.append(Verdict(sentence(str(target), base, what, found[(target, "all")]), parts, where))
    return out


def _best(summary: Summary) -> list[Best]:
    """Per category: the target with the most work per dollar, and the fastest."""
    ppd, tput = summary.frames[("perf_per_dollar", "rate")], summary.frames[("throughput", "rate")]
    categories = sorted(set(ppd["category"]) | set(tput["category"]), key=lambda c: (c != "all", c))
    base = f"of {summary.baseline}"
    return [Best(words(str(c)), top(ppd, str(c), base) if not ppd.empty else "not priced",
                 top(tput, str(c), base), Filters(None if c == "all" else str(c), "", ""))
            for c in categories]  # fmt: skip


def summarise(
    current: pd.DataFrame, baseline: str | None, pooled: pd.DataFrame | None = None
) -> Summary:
    """Tables, verdicts and the best targets of the current rows.

    The suite ratios come from ``pooled`` (every native row: several runs of one target are
    its replicates), else from ``current``.
    """
    chosen, note = resolve_baseline(current, baseline)
    summary = Summary(chosen, note)
    if chosen is None:
        return summary
    rows = current if pooled is None or pooled.empty else pooled
    summary.frames, summary.gaps = _summaries(rows, chosen)
    targets = _targets(current)
    for metric, mode, title in METRICS:
        part = summary.frames[(metric, mode)]
        if not part.empty:
            summary.tables.append(_table(metric, title, part, targets, chosen))
    summary.verdicts = _verdicts(summary, current, targets)
    summary.best = _best(summary)
    return summary


SUMMARY_COLUMNS = ("target", "category", "measure", "mode", "ratio", "low", "high", "baseline",
                   "n_cases", "method")  # fmt: skip


def summary_rows(summary: Summary) -> pd.DataFrame:
    """The report's suite ratios as rows (``harness export --summary``); NaN bounds where a
    ratio has no interval, and ``method`` says why."""
    parts = [frame for frame in summary.frames.values() if not frame.empty]
    if not parts:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    frame = pd.concat(parts, ignore_index=True)
    out = frame.rename(columns={"group": "target", "metric": "measure", "geomean": "ratio",
                                "ci_low": "low", "ci_high": "high", "n": "n_cases"})  # fmt: skip
    return out[list(SUMMARY_COLUMNS)].sort_values(["measure", "mode", "target", "category"])
