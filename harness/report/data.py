"""The rows a report reads: normalised, labelled, and split into current, emulated and history.

A report may get bare export rows (no price columns, old files without profiles) or priced
rows with runs; every optional column gets a neutral default so each section reads one shape.
"Current" is each host kind's latest run of each case: a nightly series would otherwise be
averaged into the comparison; earlier nights are the History section's business.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.keys import CASE_FIELDS, HostKind, target_label
from harness.pricing.arithmetic import throughput_estimate
from harness.report.format import is_ok, rows_of, text
from harness.results import Run
from harness.units import MISSING, flag

REQUIRED_COLUMNS = (
    "run_id", "host", "arch", "cpu", "instance_type", "workload", "category", "size", "mode",
    "threads", "unit", "work", "median_s", "ci_low_s", "ci_high_s", "compile_s",
    "valid", "error",
)  # fmt: skip
_NAN_COLUMNS = (
    "bytes", "flops", "gflops", "cache_load_s", "p50_s", "p90_s", "p99_s", "steal", "other_load",
    "vcpus", "physical_cores", "processes", "process_log_sd", "price_per_hour",
    "throughput_low", "throughput_high", "throughput_per_vcpu", "throughput_per_core",
    *(f"{f}{end}" for f in ("usd_per_million", "perf_per_dollar", "rel_perf_per_dollar")
      for end in ("", "_low", "_high")),
)  # fmt: skip
_NONE_COLUMNS = (
    "llvm_cpu",
    "bound",
    "vector_isa",
    "target_type",
    "match_how",
    "cost_status",
    "price_kind",
    "price_region",
    "price_date",
    "price_source",
    "ci_method",
)
CASE = CASE_FIELDS
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363",
)  # fmt: skip
ARCH_COLORS = {"aarch64": "#e8710a", "x86_64": "#1967d2"}
# A run's status when it stopped early: Ctrl-C or SIGTERM marks it interrupted; a run killed
# outright (or still going) stays running.
UNFINISHED = {"interrupted": "run interrupted", "running": "run still running or killed"}


@dataclass(frozen=True)
class RunInfo:
    """What a run adds to its rows: when it ran, its cloud, environment and measured roofs."""

    run_id: str
    created: str
    cloud: str
    env: dict[str, Any]
    roofline: dict[str, Any]
    status: str = ""  # the manifest's: complete, interrupted, running ("" when not known)

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED


@dataclass
class ReportData:
    """Rows in every shape the sections need, and the keys the page's filters offer."""

    raw: pd.DataFrame  # the given rows, ordered, original columns: the embedded data
    current: pd.DataFrame  # native rows: each host kind's latest run per case
    rows: list[dict[str, Any]]  # every row, normalised, with derived columns, oldest run first
    cur: list[dict[str, Any]]  # ``current`` as dicts, in table order
    emulated: list[dict[str, Any]]
    runs: dict[str, RunInfo]
    native: pd.DataFrame = field(default_factory=pd.DataFrame)  # every native row, all runs
    colors: dict[str, str] = field(default_factory=dict)

    def values(self, column: str) -> list[str]:
        """Sorted distinct values of a filter column over every row."""
        return sorted({str(r[column]) for r in self.rows})

    def run_order(self) -> list[str]:
        """Run ids, oldest first; runs without rows (only an environment) last."""
        order = list(dict.fromkeys(str(r["run_id"]) for r in self.rows))
        return order + [rid for rid in self.runs if rid not in order]


def check_columns(rows: pd.DataFrame) -> None:
    """Raise UserError naming the columns the report needs but the frame lacks."""
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise UserError(f"result rows lack columns: {', '.join(missing)}")


def run_infos(
    environments: Sequence[dict[str, Any]], runs: Sequence[Run] | None
) -> dict[str, RunInfo]:
    """Per run id: creation time, cloud, environment and roofline, from runs or environments."""
    found: dict[str, RunInfo] = {}
    for entry in environments:
        env = entry.get("env") if isinstance(entry.get("env"), dict) else {}
        found[str(entry.get("run_id"))] = _info(str(entry.get("run_id")), env or {}, "", {})
    for run in runs or ():
        created = str(run.manifest.get("created") or "")
        roof, status = run.manifest.get("roofline"), str(run.manifest.get("status") or "")
        found[run.run_id] = _info(run.run_id, run.environment, created, roof, status)
    return found


def _info(run_id: str, env: dict[str, Any], created: str, roof: Any, status: str = "") -> RunInfo:
    cloud = (env.get("cloud") or {}).get("cloud") if isinstance(env.get("cloud"), dict) else None
    roofline = roof if isinstance(roof, dict) and "error" not in roof else {}
    return RunInfo(run_id, created, str(cloud or "unknown"), env, roofline, status)


def case_state(row: dict[str, Any], ok: bool, run: RunInfo | None) -> str:
    """ok, failed, unfinished (pending in a run that stopped early) or pending (not run yet):
    a case a killed run never reached did not fail."""
    if ok:
        return "ok"
    if row.get("status") != "pending":
        return "failed"
    return "unfinished" if run is not None and run.unfinished else "pending"


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Every optional column present, with a value that means 'not measured'."""
    out = frame.copy()
    for column in _NAN_COLUMNS:
        out[column] = pd.to_numeric(out[column], errors="coerce") if column in out else math.nan
    for column in _NONE_COLUMNS:
        if column not in out:
            out[column] = None
    out["profile"] = (
        out["profile"].where(out["profile"].notna(), "native") if "profile" in out else "native"
    )
    for column in ("emulated", "noisy"):
        out[column] = [flag(v) for v in out[column]] if column in out else False
    out["category"] = [c if isinstance(c, str) and c else "unknown" for c in out["category"]]
    out["threads"] = [int(t) if t == t and t is not None else 1 for t in out["threads"]]
    return out


def _kind(row: dict[str, Any]) -> str:
    """The row's host kind; a host of unknown type is a kind of its own, named by host."""
    kind = HostKind.of_row(row)
    return kind.label if kind.known_type else f"{kind.label} on {text(row['host'])}"


def _derive(rows: pd.DataFrame, runs: dict[str, RunInfo]) -> pd.DataFrame:
    """Add target, kind, label (the trace name), cloud, run order, ok and throughput."""
    records = rows_of(rows)
    order = sorted({str(r["run_id"]) for r in records}, key=lambda rid: (_created(runs, rid), rid))
    rank = {rid: i for i, rid in enumerate(order)}
    kinds = [_kind(r) for r in records]
    base = [f"{text(r['host'])} ({text(r['arch'])})" for r in records]
    per_label: dict[str, set[str]] = {}
    for label, kind in zip(base, kinds, strict=True):
        per_label.setdefault(label, set()).add(kind)
    targets = [target_label(r) or MISSING for r in records]
    labels = [
        f"{text(r['host'])} ({text(r['arch'])}, {t})" if len(per_label[b]) > 1 else b
        for r, b, t in zip(records, base, targets, strict=True)
    ]
    ok = [is_ok(r) for r in records]
    ids = [str(r["run_id"]) for r in records]
    states = [case_state(r, good, runs.get(i)) for r, good, i in zip(records, ok, ids, strict=True)]
    return rows.assign(
        target=targets, kind=kinds, label=labels, ok=ok, rank=[rank[i] for i in ids],
        state=states, run_status=[runs[i].status if i in runs else "" for i in ids],
        cloud=[runs[i].cloud if i in runs else "unknown" for i in ids],
        tput=[throughput_estimate(r).value if good else math.nan
              for r, good in zip(records, ok, strict=True)],
    )  # fmt: skip


def _created(runs: dict[str, RunInfo], run_id: str) -> str:
    info = runs.get(run_id)
    return info.created if info else ""


def _mode_rank(mode: Any) -> int:
    return {"speed": 0, "rate": 1}.get(str(mode), 2)


def ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """Sort cases by workload, mode (speed first), threads, host, profile and run."""
    keys = ["workload", "_rank", "mode", "threads", "host", "profile", "run_id"]
    keys = [k for k in keys if k in rows or k == "_rank"]
    rank = rows["mode"].map(_mode_rank)
    return rows.assign(_rank=rank).sort_values(keys, kind="stable").drop(columns="_rank")


def prepare(
    frame: pd.DataFrame, environments: Sequence[dict[str, Any]], runs: Sequence[Run] | None
) -> ReportData:
    """Check, normalise and split the rows."""
    check_columns(frame)
    raw = ordered(frame)
    infos = run_infos(environments, runs)
    rows = _derive(_normalise(raw), infos)
    by_rank = rows.sort_values("rank", kind="stable")
    native = by_rank.loc[~by_rank["emulated"]]
    current = ordered(native.drop_duplicates(["kind", *CASE], keep="last"))
    labels = sorted(set(rows["label"]))
    colors = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}
    every = rows_of(by_rank)
    emulated = [r for r in rows_of(rows) if r["emulated"]]
    return ReportData(
        raw, current, every, rows_of(current), emulated, infos, colors=colors, native=native
    )
