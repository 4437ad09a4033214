"""Flat rows, one per case, from runs on disk: what export, the report and comparisons read."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.keys import UNKNOWN, HostKind
from harness.measure.sample_stats import Estimate
from harness.outputs import check_output, write_output
from harness.records import CaseResult
from harness.results import Run
from harness.untrusted import csv_frame

COLUMNS = (
    "run_id", "host", "arch", "cpu", "llvm_cpu", "instance_type", "workload", "category",
    "size", "mode", "threads", "unit", "work", "median_s", "ci_low_s", "ci_high_s",
    "throughput", "compile_s", "valid", "error",
    # beyond the columns every consumer relies on:
    "status", "bound", "n", "bytes", "flops", "cache_load_s", "rounds", "bandwidth_gbs",
    "gflops", "roof_limit", "roof_value", "attained", "threading_layer", "digest",
    "p50_s", "p90_s", "p99_s", "profile", "vector_isa", "steal", "other_load", "noisy",
    "emulated", "vcpus", "physical_cores", "processes", "process_log_sd", "ci_method",
)  # fmt: skip
FORMATS = ("csv", "json")


def _host_columns(run: Run) -> dict[str, Any]:
    env = run.environment
    kind = HostKind.of_environment(env)
    return {
        "run_id": run.run_id,
        "host": env.get("host"),
        **{field: None if part == UNKNOWN else part for field, part in kind._asdict().items()},
        "emulated": bool(env.get("emulated", False)),
        "vcpus": env.get("topology", {}).get("vcpus"),
        "physical_cores": env.get("topology", {}).get("physical_cores"),
    }


def limit(roofline: dict[str, Any], bound: str, threads: int) -> tuple[str, float] | None:
    """The roof a case is read against: (name, value), or None for latency-bound work.

    Here, not beside the probes in ``measure.roofline``: that module compiles Numba kernels,
    and an export must not pay for them.
    """
    key = {"memory": "triad_gbs", "compute": "fma_gflops"}.get(bound)
    if key is None or key not in roofline:
        return None
    value = roofline[key].get(str(threads))
    return (key, float(value)) if value is not None and math.isfinite(value) else None


def _rate(amount: float | None, seconds: float | None, scale: float) -> float:
    if amount is None or not seconds:
        return math.nan
    return amount / seconds / scale


def _case_row(case: CaseResult) -> dict[str, Any]:
    plan, out, median = case.plan, case.outcome, case.median_s
    time = case.stats.time if median is not None and case.stats else Estimate(math.nan)
    return {
        **{k: plan.get(k) for k in ("workload", "category", "size", "mode", "threads", "unit")},
        **{k: plan.get(k) for k in ("work", "bound", "n", "bytes", "flops")},
        "status": case.status,
        "median_s": time.value,
        "ci_low_s": time.low,
        "ci_high_s": time.high,
        "throughput": case.throughput,
        "compile_s": out.get("compile_s", math.nan),
        "cache_load_s": out.get("cache_load_s"),
        "valid": case.status == "ok",
        "error": case.error,
        "rounds": case.stats.rounds if case.stats and median is not None else None,
        "processes": case.processes,
        "process_log_sd": case.process_log_sd,
        "ci_method": case.stats.ci_method if case.stats and median is not None else None,
        "bandwidth_gbs": _rate(plan.get("bytes"), median, 1e9),
        # integer work declares integer operations in ``flops``: they are not FLOP/s
        "gflops": _rate(None if plan.get("bound") == INTEGER else plan.get("flops"), median, 1e9),
        "threading_layer": out.get("threading_layer"),
        "profile": case.key.profile,
        **{k: (out.get("host_load") or {}).get(k) for k in ("steal", "other_load", "noisy")},
        "vector_isa": out.get("vector_isa"),
        "digest": out.get("digest"),
    }


# The last-level cache when a run's roofline did not record the host's (runs made before it
# did): 32 MiB, a fixed and conservative figure, the L3 a 2- to 16-vCPU cloud instance sees on
# Graviton and recent AMD and Intel parts. A case whose declared bytes fit in it is read as
# cache-resident, never against the DRAM line.
LLC_FALLBACK_BYTES = 32 << 20
INTEGER = "integer"  # roof_limit of integer work: no FLOP roof fits it
CACHE_RESIDENT = "cache-resident"  # roof_limit of memory-bound work that fits in the LLC


def llc_bytes(roofline: dict[str, Any]) -> float:
    """The host's last-level cache as the run's probes recorded it, else the fallback."""
    value = roofline.get("llc_bytes")
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    return float(LLC_FALLBACK_BYTES)


def _no_fraction(label: str | None) -> dict[str, Any]:
    return {"roof_limit": label, "roof_value": math.nan, "attained": math.nan}


def _roof_columns(run: Run, row: dict[str, Any]) -> dict[str, Any]:
    """The limit bounding this case on its host, and the fraction of it attained.

    Integer work gets no FLOP roof; memory-bound work whose bytes fit in the last-level cache
    runs from cache, faster than the DRAM bandwidth triad measures, so it gets no fraction of it.
    """
    if row["bound"] == INTEGER:
        return _no_fraction(INTEGER)
    roofline = run.manifest.get("roofline") or {}
    found = limit(roofline, str(row["bound"]), int(row["threads"] or 1))
    if found is None:
        return _no_fraction(None)
    name, value = found
    if name == "triad_gbs" and (row["bytes"] or math.inf) <= llc_bytes(roofline):
        return _no_fraction(CACHE_RESIDENT)
    attained = row["bandwidth_gbs"] if name == "triad_gbs" else row["gflops"]
    return {"roof_limit": name, "roof_value": value, "attained": attained / value}


def _latency_columns(case: CaseResult) -> dict[str, Any]:
    latency = case.outcome.get("latency") or {}
    return {f"{p}_s": latency.get(p, math.nan) for p in ("p50", "p90", "p99")}


def _row(run: Run, case: CaseResult) -> dict[str, Any]:
    row = {**_host_columns(run), **_case_row(case), **_latency_columns(case)}
    return row | _roof_columns(run, row)


def rows(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per case of every run; failed and unfinished cases carry no timing."""
    records = [_row(run, case) for run in runs for case in run.results]
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def catalog_with_prices(prices: Path | None) -> dict[str, Any]:
    """The instance catalog, with a user price file (negotiated, spot...) layered over it."""
    from harness.pricing.catalog import apply_prices, load_catalog, load_prices

    catalog = load_catalog()
    return apply_prices(catalog, load_prices(prices)) if prices else catalog


def run_match(run: Run, catalog: dict[str, Any]) -> Any:
    """Which priced target a run's host was, re-derived so a new price file re-prices it."""
    from harness.pricing.matching import match_host

    price = (run.manifest.get("options") or {}).get("price")
    return match_host(run.environment, catalog, price=price)


def priced_rows(
    runs: Sequence[Run], prices: Path | None = None, baseline: str | None = None
) -> pd.DataFrame:
    """Rows with price, cost per million units and performance per dollar added."""
    from harness.pricing.arithmetic import add_prices

    catalog = catalog_with_prices(prices)
    matches = {run.run_id: run_match(run, catalog) for run in runs}
    return add_prices(rows(runs), matches, baseline)


def render(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return csv_frame(frame).to_csv(index=False)
    if fmt == "json":
        # pandas' default keeps 10 decimals, which rounds costs like 3.07e-9 to 3.1e-9
        return frame.to_json(orient="records", indent=1, double_precision=15) + "\n"
    raise UserError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")


def write(frame: pd.DataFrame, fmt: str, out: Path | None, runs: Iterable[Run] = ()) -> str | None:
    """The rows as text, or written atomically to ``out``, which must not be a result file of
    the input ``runs``."""
    if out is None:
        return render(frame, fmt)
    check_output(out, runs, "export")
    write_output(out, render(frame, fmt), "export")
    return None
