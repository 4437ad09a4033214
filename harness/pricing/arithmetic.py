"""Price-performance arithmetic and the price columns of export rows.

The arithmetic is pure and exact so it can be checked by hand: throughput = work / seconds;
cost per million units = price per hour / 3600 x seconds / work x 1e6; performance per dollar
= throughput / price per hour (units per second per USD-per-hour; only ratios of it are read).
Each figure is a monotone function of the median time, so its confidence interval is the same
function of the time interval's bounds (decreasing functions swap them). Relative figures use
the baseline's point value: the baseline's own uncertainty is not folded in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.keys import ACROSS_HOSTS
from harness.measure.sample_stats import Estimate
from harness.pricing.matching import Match
from harness.records import throughput
from harness.units import flag

SECONDS_PER_HOUR = 3600.0


def _div(a: float, b: float) -> float:
    """a / b, NaN when b is not a positive number (a missing or zero time prices nothing)."""
    return a / b if b > 0 else math.nan


def cost_per_million(price_per_hour: float, seconds: float, work: float) -> float:
    """USD per million units: what the instance costs while it does a million units."""
    return _div(price_per_hour / SECONDS_PER_HOUR * seconds * 1e6, work)


def perf_per_dollar(rate: float, price_per_hour: float) -> float:
    """Throughput per USD-per-hour: higher is better value; compare it as a ratio."""
    return _div(rate, price_per_hour)


def relative(value: float, baseline: float) -> float:
    """``value`` as a multiple of the baseline's (2.0: twice the baseline's)."""
    return _div(value, baseline)


def per_unit(rate: float, count: float) -> float:
    """Throughput per vCPU or per physical core."""
    return _div(rate, count)


def time_estimate(row: Mapping[str, Any]) -> Estimate:
    """A row's median time and its interval (``median_s``, ``ci_low_s``, ``ci_high_s``)."""
    median, low, high = (_float(row.get(k)) for k in ("median_s", "ci_low_s", "ci_high_s"))
    return Estimate(median, low, high)


def throughput_estimate(row: Mapping[str, Any]) -> Estimate:
    """A row's throughput and its interval, from its median time's; NaN where unknown.

    Throughput is a decreasing function of time, so its bounds are the time's, swapped.
    """
    work = _float(row.get("work"))
    return time_estimate(row).map(lambda s: throughput(work, s))


def busy_cores(threads: int, cores: int) -> int:
    """Physical cores that ``threads`` occupy: Linux spreads threads over idle cores before it
    puts two on the SMT siblings of one core, so up to ``cores`` threads take a core each."""
    return max(min(threads, cores), 1)


# --------------------------------------------------------------------------- export columns

FIGURES = ("usd_per_million", "perf_per_dollar", "rel_perf_per_dollar", "throughput_per_vcpu",
           "throughput_per_core")  # fmt: skip
PRICE_COLUMNS = (
    "target_type", "match_how", "cost_status", "price_per_hour", "price_kind", "price_region",
    "price_date", "price_source", "throughput_low", "throughput_high",
    *(f"{f}{end}" for f in FIGURES for end in ("", "_low", "_high")),
)  # fmt: skip
_NAN = Estimate(math.nan)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _count(value: Any) -> int:
    """A thread count from a cell; a missing one counts as 1."""
    number = _float(value)
    return int(number) if number >= 1 else 1


def _status(row: Mapping[str, Any], match: Match | None) -> str:
    """Why a row gets whole-instance cost figures, or why not (the cost_status column)."""
    threads, target = _count(row.get("threads")), match.target if match else None
    if flag(row.get("emulated")):
        return "emulated: never priced"
    if not flag(row.get("valid")) or not _float(row.get("median_s")) > 0:
        return "invalid: no timing"
    if target is None:
        return "unpriced host"
    if row.get("mode") != "rate":
        return "speed mode: one stream, not the whole instance"
    if threads < target.vcpus:
        return f"partial: {threads} of {target.vcpus} vCPUs busy"
    return "priced"


def _price_cells(match: Match | None, status: str) -> dict[str, Any]:
    """Which row priced this run, and its price with kind, region, date and source."""
    target = match.target if match else None
    how = match.how if match else "unknown"
    cells = {"target_type": target.type if target else None, "match_how": how}
    shown = target if not status.startswith("emulated") else None
    return cells | {
        "cost_status": status,
        "price_per_hour": shown.price_per_hour if shown else math.nan,
        "price_kind": shown.price_kind if shown else None,
        "price_region": shown.region if shown else None,
        "price_date": shown.price_date if shown else None,
        "price_source": shown.price_source if shown else None,
    }


def _row_figures(row: Mapping[str, Any], match: Match | None) -> dict[str, Any]:
    """Every price column of one export row, except the baseline-relative one."""
    status = _status(row, match)
    cells = _price_cells(match, status)
    work, threads = _float(row.get("work")), _count(row.get("threads"))
    times, rate = time_estimate(row), throughput_estimate(row)
    cells |= {"throughput_low": rate.low, "throughput_high": rate.high}
    target = match.target if match else None
    cores = target.cores if target else (match.cores if match else None)
    per_core = busy_cores(threads, cores) if cores else math.nan
    cells |= rate.map(lambda r: per_unit(r, threads)).columns("throughput_per_vcpu")
    cells |= rate.map(lambda r: per_unit(r, per_core)).columns("throughput_per_core")
    price = target.price_per_hour if target and status == "priced" else math.nan
    cost = times.map(lambda s: cost_per_million(price, s, work))
    cells |= (cost if status == "priced" else _NAN).columns("usd_per_million")
    ppd = rate.map(lambda r: perf_per_dollar(r, price))
    return cells | (ppd if status == "priced" else _NAN).columns("perf_per_dollar")


def _case_key(row: Mapping[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    return tuple(None if isinstance(v, float) and math.isnan(v) else v for v in map(row.get, keys))


def _relative_to(estimate: Estimate, baseline: float) -> Estimate:
    return estimate.map(lambda v: relative(v, baseline))


def _baseline_run(
    rows: Sequence[Mapping[str, Any]], matches: Mapping[str, Match], name: str
) -> str:
    """The one run a --baseline names: by run id, else instance type, else host name."""
    runs = sorted({str(r["run_id"]) for r in rows})
    if name in runs:
        return name
    by_type = {r for r in runs if (m := matches.get(r)) and m.target and m.target.type == name}
    hits = sorted(by_type or {str(r["run_id"]) for r in rows if r.get("host") == name})
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise UserError(f"baseline {name!r} is no run id, instance type or host of these results")
    raise UserError(f"baseline {name!r} matches runs {', '.join(hits)}; name one run id")


def _relative(rows: list[dict[str, Any]], keys: Sequence[str], base_run: str, name: str) -> None:
    """Fill rel_perf_per_dollar: each priced row over the baseline run's same case."""
    base = {_case_key(r, keys): r["perf_per_dollar"] for r in rows
            if r["run_id"] == base_run and r["perf_per_dollar"] > 0}  # fmt: skip
    if not base:
        raise UserError(f"baseline {name!r} has no priced whole-instance (rate, all vCPUs) results")
    for r in rows:
        ref = base.get(_case_key(r, keys), math.nan)
        ppd = Estimate.from_columns(r, "perf_per_dollar")
        r |= _relative_to(ppd, ref).columns("rel_perf_per_dollar")


def add_prices(
    frame: pd.DataFrame, matches_by_run: Mapping[str, Match], baseline: str | None = None
) -> pd.DataFrame:
    """Export rows with PRICE_COLUMNS added (a copy; earlier price columns are replaced).

    Whole-instance figures (usd_per_million, perf_per_dollar and the relative one) exist only
    for valid rate-mode rows with every vCPU of a priced target busy: a speed row runs one
    stream on one core while the customer pays for all of them, so its cost per unit would be
    wrong by the vCPU count; it gets NaN, and cost_status says why. Emulated rows are never
    priced (QEMU timings say nothing about a real chip). Per-vCPU and per-core throughput are
    computed for every timed row (cores from the target, else the host). ``baseline`` names a
    run id, an instance type or a host; rel_perf_per_dollar is NaN without one.
    """
    records = frame.drop(columns=list(PRICE_COLUMNS), errors="ignore").to_dict("records")
    rows = [{str(k): v for k, v in r.items()} for r in records]
    rows = [r | _row_figures(r, matches_by_run.get(str(r["run_id"]))) for r in rows]
    for r in rows:
        r |= _NAN.columns("rel_perf_per_dollar")
    if baseline is not None and rows:
        keys = [k for k in ACROSS_HOSTS if k in frame.columns]
        _relative(rows, keys, _baseline_run(rows, matches_by_run, baseline), baseline)
    columns = [c for c in frame.columns if c not in PRICE_COLUMNS] + list(PRICE_COLUMNS)
    return pd.DataFrame.from_records(rows, columns=columns, index=frame.index)
