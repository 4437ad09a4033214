"""Suite summaries: the geometric mean of each target's ratios to a baseline, over cases.

The cases of a suite are the sample: a geometric mean of per-case ratios answers "how much
faster (or cheaper per unit) is this target across the workloads we run", and its bootstrap
interval over cases says how much that answer depends on which cases were chosen. Each case
is reduced to one value per group first (its median over repeats, at the most threads the
group ran), so repeats and row order cannot weigh on the result.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from harness.errors import UserError
from harness.keys import ACROSS_HOSTS, target_label
from harness.measure.sample_stats import CONFIDENCE, Estimate
from harness.pricing.hierarchical import hierarchical_geomean
from harness.units import flag

N_RESAMPLES = 2000
SUMMARY_METRICS = ("throughput", "perf_per_dollar", "throughput_per_vcpu", "throughput_per_core")


def _bootstrap_kwargs(seed: int) -> dict[str, Any]:
    """scipy >= 1.15 takes ``rng``; older versions ``random_state``: both deterministic."""
    name = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
    return {name: np.random.default_rng(seed)}


def geomean_ci(
    values: Sequence[float],
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """Geometric mean of positive ratios with a bootstrap CI over them (BCa, else percentile).

    Values are sorted first, so the answer does not depend on their order; two or more
    identical values give that value with a zero-width interval; one value has no interval.
    """
    data = np.sort(np.asarray(values, dtype=float))
    if data.size == 0 or not np.all(np.isfinite(data)) or np.any(data <= 0):
        raise ValueError("geomean_ci needs one or more positive, finite values")
    if data.size == 1:
        return Estimate(float(data[0]), math.nan, math.nan, 1, "single", confidence)
    if np.all(data == data[0]):
        one = float(data[0])
        return Estimate(one, one, one, int(data.size), "equal", confidence)
    logs = np.log(data)
    value = float(np.exp(logs.mean()))
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa on a few values warns; NaN bounds tell us
            res = stats.bootstrap(
                (logs,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                method=method, **_bootstrap_kwargs(seed),
            )  # fmt: skip
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            low, high = min(math.exp(low), value), max(math.exp(high), value)
            return Estimate(value, low, high, int(data.size), method, confidence)
    return Estimate(value, math.nan, math.nan, int(data.size), "none", confidence)


def _labels(frame: pd.DataFrame) -> pd.Series:
    """What each row is summarised under (``keys.target_label``)."""
    labels: list[str | None] = [target_label({str(k): v for k, v in r.items()})
                                for r in frame.to_dict("records")]  # fmt: skip
    return pd.Series(labels, index=frame.index, dtype=object)


def _pool(part: pd.DataFrame) -> pd.Series:
    """Rows of one case and group (repeat runs, or instances of one type) as one figure: their
    processes pooled, the geometric mean weighted by process count, and the spread of the logs
    over every process, a run's offset from the others included."""
    k = part["processes"].clip(lower=1).to_numpy(dtype=float)
    logs = np.log(part["value"].to_numpy(dtype=float))
    sd = np.nan_to_num(part["process_log_sd"].to_numpy(dtype=float), nan=0.0)
    total, mean = float(k.sum()), float((k * logs).sum() / k.sum())
    squares = float(((k - 1) * sd**2).sum() + (k * (logs - mean) ** 2).sum())
    measured = len(part) > 1 or bool((part["processes"] >= 2).any())
    spread = math.sqrt(squares / (total - 1)) if measured and total > 1 else math.nan
    return pd.Series({"value": math.exp(mean), "processes": total, "process_log_sd": spread,
                      "runs": len(part)})  # fmt: skip


def _column(frame: pd.DataFrame, name: str, default: float) -> pd.Series:
    """A numeric column, or ``default`` throughout for rows written before it existed."""
    if name not in frame:
        return pd.Series(default, index=frame.index, dtype=float)
    return pd.to_numeric(frame[name], errors="coerce").astype(float)


def _cases(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One figure per (group, case): the most threads each group ran, repeats pooled (``_pool``).

    Emulated rows and noisy ones (measured while the host was busy) never count.
    """
    no = pd.Series(False, index=frame.index)
    emulated = frame["emulated"].map(flag).astype(bool) if "emulated" in frame else no
    noisy = frame["noisy"].map(flag).astype(bool) if "noisy" in frame else no
    valid = frame["valid"].map(flag).astype(bool) if "valid" in frame else ~no
    value = pd.to_numeric(frame[metric], errors="coerce")
    kept = valid & ~emulated & ~noisy & (value > 0)
    processes = _column(frame, "processes", 1.0).fillna(1.0)
    spread = _column(frame, "process_log_sd", math.nan)
    data = frame.assign(group=_labels(frame), value=value, processes=processes,
                        process_log_sd=spread).loc[kept]  # fmt: skip
    keys = [k for k in ACROSS_HOSTS if k in data]
    data = data.assign(threads=data.get("threads", 1))
    most = data.groupby(["group", *keys], dropna=False)["threads"].transform("max")
    data = data.loc[data["threads"] == most]
    by = ["group", "category", *keys]
    columns = ["value", "processes", "process_log_sd"]
    if data.empty:
        return pd.DataFrame(columns=[*by, *columns, "runs"])
    pooled = data.groupby(by, dropna=False)[columns].apply(_pool)
    return pooled.reset_index()


def geomean_estimate(row: Mapping[str, Any]) -> Estimate:
    """One row of a suite summary frame as the estimate it holds."""
    low, high = float(row["ci_low"]), float(row["ci_high"])
    return Estimate(float(row["geomean"]), low, high, int(row["n"]), str(row.get("method", "")))


def _column_gap(frame: pd.DataFrame, metric: str) -> str | None:
    if metric not in SUMMARY_METRICS or metric not in frame:
        have = ", ".join(m for m in SUMMARY_METRICS if m in frame)
        return f"cannot summarise {metric!r} (have: {have})"
    return None


def _baseline_gap(cases: pd.DataFrame, baseline: str) -> str | None:
    if not (cases["group"] == baseline).any():
        groups = ", ".join(sorted(map(str, cases["group"].unique())))
        return (f"baseline {baseline!r} is not among the summarised groups ({groups}); "
                "noisy and emulated cases are left out")  # fmt: skip
    return None


def _reduced(frame: pd.DataFrame, baseline: str, metric: str) -> tuple[pd.DataFrame, str | None]:
    """One value per (group, case), or why the frame cannot be summarised against baseline."""
    reason = _column_gap(frame, metric)
    if reason:
        return pd.DataFrame(), reason
    cases = _cases(frame, metric)
    return cases, _baseline_gap(cases, baseline)


def _estimate(
    part: pd.DataFrame, itself: bool, confidence: float, n_resamples: int, seed: int
) -> Estimate:
    """The suite ratio of one target, mode and category (the baseline against itself is 1)."""
    if itself:
        return geomean_ci(part["ratio"].to_list(), confidence, n_resamples, seed)
    return hierarchical_geomean(
        np.log(part["ratio"].to_numpy(dtype=float)).tolist(),
        (part["process_log_sd"].to_list(), part["processes"].to_list()),
        (part["process_log_sd_base"].to_list(), part["processes_base"].to_list()),
        confidence, n_resamples, seed,
    )  # fmt: skip


def _ratios(
    cases: pd.DataFrame, baseline: str, metric: str, confidence: float, n_resamples: int, seed: int
) -> pd.DataFrame:
    keys = [k for k in ACROSS_HOSTS if k in cases]
    base = cases.loc[cases["group"] == baseline, [*keys, "value", "processes", "process_log_sd"]]
    merged = cases.merge(base, on=keys, suffixes=("", "_base"))
    merged["ratio"] = merged["value"] / merged["value_base"]
    out = []
    for (group, mode), sub in merged.groupby(["group", "mode"], sort=True):
        parts = [*sub.groupby("category", sort=True), ("all", sub)]
        for category, part in parts:
            g = _estimate(part, group == baseline, confidence, n_resamples, seed)
            out.append({"group": group, "mode": mode, "category": category, "metric": metric,
                        "baseline": baseline, "n": g.n, "geomean": g.value, "ci_low": g.low,
                        "ci_high": g.high, "method": g.method})  # fmt: skip
    return pd.DataFrame(out)


def summary_or_gap(
    frame: pd.DataFrame, baseline: str, metric: str
) -> tuple[pd.DataFrame, str | None]:
    """The suite summary at the default settings, or an empty frame and why none can be made."""
    cases, reason = _reduced(frame, baseline, metric)
    if reason:
        return pd.DataFrame(columns=["group", "mode", "category", "metric", "geomean"]), reason
    return _ratios(cases, baseline, metric, CONFIDENCE, N_RESAMPLES, 0), None


def suite_summary(
    frame: pd.DataFrame,
    baseline: str,
    metric: str = "throughput",
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """Geometric mean of ``metric`` ratios to ``baseline``, per (group, mode, category) and per
    (group, mode) over all categories ("all"), each with a bootstrap CI over the cases.

    A group is a priced type, else the DMI type, else the host; ``baseline`` names one. Only
    valid native rows count; a case missing on either side is left out (``n`` says how many
    stayed). Rows are reduced per case before any resampling, so row order changes nothing.
    A summary that cannot be made is a UserError saying why.
    """
    cases, reason = _reduced(frame, baseline, metric)
    if reason:
        raise UserError(reason)
    return _ratios(cases, baseline, metric, confidence, n_resamples, seed)
