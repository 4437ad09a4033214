"""The report's tables: cases, failures, compile profiles, prices, emulated runs, hosts.

A failed case carries its error and never a number: every measured cell is MISSING, so a
work count or a stale time cannot be read as a result. A case its run never reached (the run
was interrupted or killed) reads unfinished, not failed: nothing about the code went wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.keys import HostKind
from harness.measure.sample_stats import Estimate, judged
from harness.pricing.arithmetic import throughput_estimate
from harness.report.data import UNFINISHED, RunInfo
from harness.report.format import CostScale, cost_scale, flatten, group, text, usd
from harness.units import MISSING, finite, seconds, si

_TEXT_FIELDS = ("workload", "mode", "host", "arch", "cpu", "instance_type", "size")


@dataclass(frozen=True)
class Filters:
    """The keys the page's filters match an element on (data-category, data-arch...)."""

    category: str | None
    arch: str
    cloud: str


@dataclass(frozen=True)
class TableRow:
    """One measured case, formatted for the cases table."""

    workload: str
    mode: str
    threads: int
    host: str
    arch: str
    cpu: str
    instance_type: str
    size: str
    ok: bool
    state: str  # ok, failed, unfinished, pending (see data.case_state)
    status: str  # what the status cell says: 'valid', 'failed', 'unfinished (run interrupted)'
    throughput: str
    ci: str
    median: str
    compile: str
    profile: str
    cost: str
    cost_note: str
    latency: str
    load: str
    error: str
    filters: Filters


def filters(row: dict[str, Any], category: bool = True) -> Filters:
    return Filters(str(row["category"]) if category else None, str(row["arch"]), str(row["cloud"]))


def status_label(row: dict[str, Any]) -> str:
    """The word a case's status reads as: its error, if it failed, is shown beside it once."""
    state = str(row["state"])
    if state == "unfinished":
        return f"unfinished ({UNFINISHED.get(str(row['run_status']), 'run did not finish')})"
    return {"ok": "valid", "failed": "failed", "pending": "not run yet"}.get(state, state)


def error_text(row: dict[str, Any]) -> str:
    """A failed case's error ('' when it recorded none, or did not fail)."""
    return text(row["error"]) if row["state"] == "failed" and text(row["error"]) != MISSING else ""


def status_text(row: dict[str, Any]) -> str:
    """'valid', 'failed: <error>', 'unfinished (run interrupted)', 'not run yet'."""
    error = error_text(row)
    return f"{status_label(row)}: {error}" if error else status_label(row)


def _cost(row: dict[str, Any], scale: CostScale) -> tuple[str, str]:
    """Cost per the workload's scale of units, with its interval; or MISSING and why not."""
    if finite(row["usd_per_million"]):
        cost = Estimate.from_columns(row, "usd_per_million").map(scale.of)
        spread = f" ({usd(cost.low)}\u2013{usd(cost.high)})" if cost.has_interval else ""
        return f"{usd(cost.value)}{spread} {scale.per(text(row['unit']))}", ""
    status = row["cost_status"]
    return MISSING, (f"not priced: {status}" if isinstance(status, str) else "not priced")


def _latency(row: dict[str, Any]) -> str:
    parts = [
        f"{p} {seconds(row[f'{p}_s'])}" for p in ("p50", "p90", "p99") if finite(row[f"{p}_s"])
    ]
    return " · ".join(parts) if parts else MISSING


def load_note(row: dict[str, Any]) -> str:
    """'noisy host (steal 12%, other load 3%)' for a case the harness flagged, else ''."""
    if not row["noisy"]:
        return ""
    pairs = (("steal", "steal"), ("other load", "other_load"))
    shares = [f"{name} {row[k]:.0%}" for name, k in pairs if finite(row[k])]
    return "noisy host" + (f" ({', '.join(shares)})" if shares else "")


def _profile(row: dict[str, Any]) -> str:
    isa = row["vector_isa"]
    return f"{row['profile']} ({isa})" if isinstance(isa, str) and isa else str(row["profile"])


def table_row(row: dict[str, Any], scale: CostScale | None = None) -> TableRow:
    """Format one case; a failed case carries no numbers, only its error."""
    ok = bool(row["ok"])
    unit = f"{text(row['unit'])}/s"
    throughput = ci = median = compile_ = cost = latency = MISSING
    note = ""
    if ok:
        rate = throughput_estimate(row)
        throughput = f"{si(rate.value)} {unit}"
        if rate.has_interval:
            ci = f"{si(rate.low)} \u2013 {si(rate.high)} {unit}"
        elif not judged(row.get("ci_method")):
            ci = "not judged: one process"
        median, compile_ = seconds(row["median_s"]), seconds(row["compile_s"])
        (cost, note), latency = _cost(row, scale or cost_scale([row])), _latency(row)
    texts = {name: text(row[name]) for name in _TEXT_FIELDS}
    return TableRow(
        **texts, threads=int(row["threads"]), ok=ok, state=str(row["state"]),
        status=status_label(row), error=error_text(row), throughput=throughput, ci=ci,
        median=median, compile=compile_, profile=_profile(row), cost=cost, cost_note=note,
        latency=latency, load=load_note(row) if ok else "", filters=filters(row),
    )  # fmt: skip


def case_rows(rows: list[dict[str, Any]]) -> list[TableRow]:
    """Every case, its cost on its workload's scale (the one its chart uses)."""
    scales = {key: cost_scale(found) for key, found in group(rows, "workload").items()}
    return [table_row(r, scales[(r["workload"],)]) for r in rows]


@dataclass(frozen=True)
class PriceRow:
    """Where one target's price came from."""

    target: str
    arch: str
    cloud: str
    price: str
    kind: str
    region: str
    date: str
    source: str
    how: str
    filters: Filters


def price_rows(rows: list[dict[str, Any]]) -> tuple[list[PriceRow], list[str]]:
    """One row per priced target; and a line per unpriced target saying why."""
    priced: list[PriceRow] = []
    unpriced: list[str] = []
    for (target,), found in group(rows, "target").items():
        has = [r for r in found if finite(r["price_per_hour"])]
        if not has:
            unpriced.append(f"{target}: {why_unpriced(found)}")
            continue
        r = has[0]
        priced.append(PriceRow(
            str(target), str(r["arch"]), str(r["cloud"]), f"{usd(r['price_per_hour'])}/h",
            text(r["price_kind"]), text(r["price_region"]), text(r["price_date"]),
            text(r["price_source"]), text(r["match_how"]), filters(r, category=False),
        ))  # fmt: skip
    return priced, unpriced


def why_unpriced(rows: list[dict[str, Any]]) -> str:
    """The most common cost status of a target's rows (why it has no cost figures)."""
    statuses = [s for s in (r["cost_status"] for r in rows) if isinstance(s, str)]
    if not statuses:
        return "no prices in these rows (give --prices or report priced rows)"
    return max(sorted(set(statuses)), key=statuses.count)


@dataclass(frozen=True)
class HostEnv:
    """One host's identification: its latest run's environment, flattened."""

    run_id: str
    host: str
    runs: list[str]
    pairs: list[tuple[str, str]]
    changed: list[str]
    filters: Filters


def _host_key(env: dict[str, Any]) -> tuple[str, HostKind]:
    """One machine: its name and kind (a rebuilt host of another type is another machine)."""
    return text(env.get("host")), HostKind.of_environment(env)


def host_envs(infos: dict[str, RunInfo], order: Sequence[str]) -> list[HostEnv]:
    """Per host (name, arch, type): the latest run's environment, and keys that changed."""
    by_host: dict[tuple[str, HostKind], list[RunInfo]] = {}
    for run_id in order:
        if run_id in infos:
            info = infos[run_id]
            by_host.setdefault(_host_key(info.env), []).append(info)
    out = []
    for key, runs in by_host.items():
        last = runs[-1]
        pairs = flatten(last.env)
        found = Filters(None, key[1].arch, last.cloud)
        changed = _changed([dict(flatten(i.env)) for i in runs])
        out.append(HostEnv(last.run_id, key[0], [i.run_id for i in runs], pairs, changed, found))
    return out


def _changed(envs: list[dict[str, str]]) -> list[str]:
    """Keys whose value differs between runs of one host: 'key: a → b'."""
    keys = dict.fromkeys(k for env in envs for k in env)
    notes = []
    for key in keys:
        values = list(dict.fromkeys(env.get(key, MISSING) for env in envs))
        if len(values) > 1:
            notes.append(f"{key}: {' → '.join(values)}")
    return notes[:40]


@dataclass(frozen=True)
class EmulatedRow:
    """A case timed under QEMU: its validation status, and a time that is never compared."""

    workload: str
    mode: str
    threads: int
    host: str
    arch: str
    profile: str
    size: str
    status: str
    median: str
    filters: Filters


def emulated_rows(rows: list[dict[str, Any]]) -> list[EmulatedRow]:
    out = []
    for r in rows:
        median = seconds(r["median_s"]) if r["ok"] else MISSING
        out.append(EmulatedRow(text(r["workload"]), text(r["mode"]), int(r["threads"]),
                               text(r["host"]), text(r["arch"]), _profile(r), text(r["size"]),
                               status_text(r), median, filters(r)))  # fmt: skip
    return out
