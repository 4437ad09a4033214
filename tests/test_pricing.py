"""Price-performance arithmetic, user price files, export price columns, suite summaries."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import UserError
from harness.measure.sample_stats import Estimate
from harness.pricing.arithmetic import (
    PRICE_COLUMNS,
    add_prices,
    busy_cores,
    cost_per_million,
    perf_per_dollar,
    relative,
)
from harness.pricing.catalog import apply_prices, load_catalog, load_prices
from harness.pricing.matching import Match
from harness.pricing.rows import rows as export_rows
from harness.pricing.summary import geomean_ci, suite_summary
from harness.records import throughput
from harness.results import Run
from harness.run.command import _summary_row

CATALOG = load_catalog()
PRICES = Path(__file__).parent / "data" / "prices"
C8A_LARGE = CATALOG["c8a.large"].price_per_hour  # 0.10778: derived from $0.05389/vCPU-h
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
factor = st.floats(min_value=0.01, max_value=100.0)


# ------------------------------------------------------------------------------ arithmetic


def test_a_million_tokens_in_two_seconds_on_c8a_large():
    """Hand-computed: $0.10778/h x 2 s / 3600 s/h = $0.0000598778 for the million tokens."""
    assert C8A_LARGE == 0.10778
    assert cost_per_million(C8A_LARGE, 2.0, 1e6) == pytest.approx(0.10778 * 2 / 3600)
    assert cost_per_million(C8A_LARGE, 2.0, 1e6) == pytest.approx(5.98778e-5, rel=1e-6)
    assert throughput(1e6, 2.0) == 500_000.0
    assert perf_per_dollar(500_000.0, C8A_LARGE) == pytest.approx(4_639_079.6, rel=1e-7)


def test_hand_computed_costs_at_other_scales():
    """$3.60/h for 100 s per million units is 10 cents; c8g.48xlarge: 1e9 rows in 10 s."""
    assert cost_per_million(3.6, 100.0, 1e6) == pytest.approx(0.1)
    assert cost_per_million(3.6, 1.0, 1e3) == pytest.approx(1.0)  # 1 ms of $3.60/h per unit
    c8g = CATALOG["c8g.48xlarge"].price_per_hour
    assert cost_per_million(c8g, 10.0, 1e9) == pytest.approx(7.657 / 3600 * 10 / 1e3)


def test_relative_value_and_missing_inputs():
    """Twice the baseline reads 2.0; a zero or missing time or baseline gives NaN, not a crash."""
    assert relative(2.0, 1.0) == 2.0 and relative(1.0, 4.0) == 0.25
    assert math.isnan(throughput(1.0, 0.0)) and math.isnan(relative(1.0, math.nan))
    assert math.isnan(cost_per_million(1.0, 1.0, 0.0))


@given(price=positive, seconds=positive, work=positive, k=factor)
def test_cost_scales_linearly_with_price_and_time_and_inversely_with_work(price, seconds, work, k):
    """Doubling price or time doubles the cost per unit; doubling the work halves it."""
    base = cost_per_million(price, seconds, work)
    assert cost_per_million(k * price, seconds, work) == pytest.approx(k * base, rel=1e-9)
    assert cost_per_million(price, k * seconds, work) == pytest.approx(k * base, rel=1e-9)
    assert cost_per_million(price, seconds, k * work) == pytest.approx(base / k, rel=1e-9)


@given(price=positive, seconds=positive, work=positive)
def test_cost_is_price_per_second_over_throughput(price, seconds, work):
    """The two forms of the arithmetic agree: cost per unit = (price / 3600) / throughput."""
    expected = price / 3600 / throughput(work, seconds) * 1e6
    assert cost_per_million(price, seconds, work) == pytest.approx(expected, rel=1e-9)


@given(work=positive, times=st.lists(positive, min_size=3, max_size=3).map(sorted))
def test_time_interval_maps_to_ordered_throughput_and_cost_intervals(work, times):
    """Throughput falls as time rises, so its bounds swap; cost rises, so its bounds keep."""
    low, mid, high = times
    rate = Estimate(mid, low, high).map(lambda s: throughput(work, s))
    assert rate == Estimate(work / mid, work / high, work / low)
    cost = Estimate(mid, low, high).map(lambda s: cost_per_million(1.0, s, work))
    assert cost.low <= cost.value <= cost.high


def test_busy_cores_fill_cores_before_smt_siblings():
    """8 threads on an 8-core 16-vCPU host use 8 cores; 16 threads still 8; 1 thread 1."""
    assert (busy_cores(1, 8), busy_cores(8, 8), busy_cores(16, 8)) == (1, 8, 8)


# ---------------------------------------------------------------------------- geometric mean


def test_geomean_of_known_values():
    """The geometric mean of 1, 2 and 4 is 2, inside its interval."""
    g = geomean_ci([1.0, 2.0, 4.0])
    assert g.value == pytest.approx(2.0) and g.low <= 2.0 <= g.high and g.n == 3


@given(value=st.floats(min_value=1e-3, max_value=1e3), n=st.integers(2, 20))
def test_geomean_of_identical_ratios_is_that_ratio_with_zero_width(value, n):
    """n equal ratios: no spread, so the bootstrap interval has no width."""
    g = geomean_ci([value] * n)
    assert (g.value, g.low, g.high) == (value, value, value)


def test_one_value_has_no_interval():
    """A single ratio cannot be resampled: its bounds are NaN, not a false zero width."""
    g = geomean_ci([1.5])
    assert g.value == 1.5 and math.isnan(g.low) and math.isnan(g.high) and g.method == "single"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(min_value=0.1, max_value=10.0), min_size=2, max_size=8), st.randoms())
def test_geomean_ci_does_not_depend_on_the_order_of_values(values, rnd):
    """Shuffled input gives the identical answer (values are sorted before resampling)."""
    shuffled = list(values)
    rnd.shuffle(shuffled)
    assert geomean_ci(values, n_resamples=200) == geomean_ci(shuffled, n_resamples=200)


def test_geomean_ci_refuses_non_positive_values():
    """A ratio of zero or below means a broken measurement: refuse it loudly."""
    with pytest.raises(ValueError):
        geomean_ci([1.0, 0.0])


# ------------------------------------------------------------------------------ price files


def test_a_price_file_lays_its_prices_over_the_catalog():
    """Negotiated prices replace price, kind, region, date and source; the rest is kept."""
    priced = apply_prices(CATALOG, load_prices(PRICES / "negotiated.toml"))
    t = priced["c8g.4xlarge"]
    assert (t.price_per_hour, t.price_kind, t.region, t.price_date) == (
        0.45, "reserved", "eu-west-1", "2026-10-01")  # fmt: skip
    assert t.price_source == "1-year reserved quote (test fixture)" and t.vcpus == 16
    spot = priced["Standard_D16ps_v6"]
    assert (spot.price_kind, spot.region, spot.price_date) == ("spot", "eastus", "")
    assert spot.price_source == "price file negotiated.toml"
    assert CATALOG["c8g.4xlarge"].price_per_hour == 0.6381  # the catalog itself is untouched


def test_a_price_for_a_type_not_in_the_catalog_is_refused_naming_file_and_type(tmp_path):
    """A typo in a price file must not silently leave the catalog price in place."""
    path = tmp_path / "p.toml"
    path.write_text('[[price]]\ntype = "c8g.4xlarg"\nprice_per_hour = 0.4\nkind = "spot"\n')
    with pytest.raises(UserError) as err:
        apply_prices(CATALOG, load_prices(path))
    assert str(path) in str(err.value) and "'c8g.4xlarg'" in str(err.value)
    assert "key 'type'" in str(err.value)


@pytest.mark.parametrize(
    ("line", "key"),
    [("price_per_hour = 0", "price_per_hour"), ("price_per_hour = -1.0", "price_per_hour"),
     ('price_per_hour = "0.4"', "price_per_hour"), ('kind = "cheap"', "kind"),
     ('date = "yesterday"', "date"), ("discount = 0.1", "discount")],
)  # fmt: skip
def test_a_bad_price_row_is_refused_naming_file_type_and_key(tmp_path, line, key):
    """Bad prices, kinds, dates and unknown keys in a price file are named precisely."""
    base = {"type": '"c8g.4xlarge"', "price_per_hour": "0.4", "kind": '"spot"'}
    name = line.split(" = ")[0]
    rows = [f"{k} = {v}" for k, v in base.items() if k != name] + [line]
    path = tmp_path / "p.toml"
    path.write_text("[[price]]\n" + "\n".join(rows) + "\n")
    with pytest.raises(UserError) as err:
        load_prices(path)
    assert str(path) in str(err.value) and "'c8g.4xlarge'" in str(err.value)
    assert f"key {key!r}" in str(err.value)


# --------------------------------------------------------------------------- export columns


def _row(run: str, workload: str, mode: str, threads: int, seconds: float, **extra: Any) -> dict:
    category = {"tokenize": "preprocess", "embed": "embed"}.get(workload, "evaluate")
    return {"run_id": run, "host": f"host-{run}", "arch": "x", "cpu": "c", "instance_type": None,
            "workload": workload, "category": category, "mode": mode, "threads": threads,
            "unit": "tokens", "work": 1e6, "median_s": seconds, "ci_low_s": seconds * 0.9,
            "ci_high_s": seconds * 1.2, "throughput": 1e6 / seconds, "valid": True,
            **extra}  # fmt: skip


MATCHES = {
    "a": Match(CATALOG["c8a.large"], "dmi", "DMI", vcpus=2, cores=2),
    "g": Match(CATALOG["c8g.xlarge"], "dmi", "DMI", vcpus=4, cores=4),
    "i": Match(CATALOG["c7i.xlarge"], "dmi", "DMI", vcpus=4, cores=2),
    "u": Match(None, "unknown", "no cloud found in DMI", vcpus=8, cores=4),
}


def _frame() -> pd.DataFrame:
    rows = []
    for run, vcpus in (("a", 2), ("g", 4), ("i", 4), ("u", 8)):
        for workload in ("tokenize", "embed"):
            rows += [_row(run, workload, "speed", 1, 2.0),
                     _row(run, workload, "rate", vcpus, 2.0 / vcpus),
                     _row(run, workload, "rate", 1, 2.0)]  # fmt: skip
    return pd.DataFrame(rows)


def test_whole_instance_rate_rows_get_the_hand_computed_cost():
    """c8a.large, rate mode, 2 threads, 1e6 tokens in 1 s: $0.10778 / 3600 per million."""
    out = add_prices(_frame(), MATCHES).set_index(["run_id", "workload", "mode", "threads"])
    row = out.loc[("a", "tokenize", "rate", 2)]
    assert row["cost_status"] == "priced" and row["price_per_hour"] == 0.10778
    assert row["usd_per_million"] == pytest.approx(0.10778 / 3600)
    assert row["usd_per_million_low"] == pytest.approx(0.10778 / 3600 * 0.9)
    assert row["usd_per_million_high"] == pytest.approx(0.10778 / 3600 * 1.2)
    assert row["perf_per_dollar"] == pytest.approx(1e6 / 0.10778)
    assert row["perf_per_dollar_low"] < row["perf_per_dollar"] < row["perf_per_dollar_high"]
    assert (row["price_source"], row["price_date"]) == (CATALOG["c8a.large"].price_source,
                                                        "2026-07-20")  # fmt: skip


def test_speed_partial_unpriced_and_emulated_rows_get_no_whole_instance_cost():
    """Only rate rows with every vCPU busy are costed; the others say why, with NaN figures."""
    frame = pd.concat([_frame(), pd.DataFrame([_row("g", "logprob", "rate", 4, 1.0,
                                                    emulated=True)])])  # fmt: skip
    out = add_prices(frame, MATCHES)
    keys = zip(out.run_id, out.workload, out["mode"], out.threads, strict=True)
    status = dict(zip(keys, out.cost_status, strict=True))
    assert status[("a", "tokenize", "speed", 1)].startswith("speed mode")
    assert status[("g", "tokenize", "rate", 1)] == "partial: 1 of 4 vCPUs busy"
    assert status[("u", "tokenize", "rate", 8)] == "unpriced host"
    assert status[("g", "logprob", "rate", 4)].startswith("emulated")
    costed = out[out.cost_status != "priced"]
    assert costed.usd_per_million.isna().all() and costed.perf_per_dollar.isna().all()
    emulated = out[out.workload == "logprob"].iloc[0]
    assert pd.isna(emulated.price_per_hour) and pd.isna(emulated.price_source)


def test_per_vcpu_and_per_core_throughput_use_busy_threads_and_cores():
    """c7i.xlarge: 4 threads on 2 SMT cores; the unpriced host uses its own 4 cores."""
    out = add_prices(_frame(), MATCHES).set_index(["run_id", "workload", "mode", "threads"])
    intel = out.loc[("i", "embed", "rate", 4)]
    assert intel.throughput_per_vcpu == pytest.approx(2e6 / 4)
    assert intel.throughput_per_core == pytest.approx(2e6 / 2)
    assert out.loc[("u", "embed", "rate", 8)].throughput_per_core == pytest.approx(4e6 / 4)
    speed = out.loc[("i", "embed", "speed", 1)]
    assert speed.throughput_per_vcpu == speed.throughput_per_core == pytest.approx(5e5)
    assert (
        speed.throughput_per_vcpu_low < speed.throughput_per_vcpu < speed.throughput_per_vcpu_high
    )


@pytest.mark.parametrize("baseline", ["c8a.large", "a", "host-a"])
def test_relative_perf_per_dollar_against_a_baseline_type_run_or_host(baseline):
    """c8g.xlarge gives twice c8a.large's throughput for $0.1595 instead of $0.10778."""
    out = add_prices(_frame(), MATCHES, baseline).set_index(["run_id", "workload", "mode",
                                                             "threads"])  # fmt: skip
    expected = (4e6 / 0.1595) / (2e6 / 0.10778)
    assert out.loc[("g", "embed", "rate", 4)].rel_perf_per_dollar == pytest.approx(expected)
    assert out.loc[("a", "embed", "rate", 2)].rel_perf_per_dollar == pytest.approx(1.0)
    assert math.isnan(out.loc[("g", "embed", "speed", 1)].rel_perf_per_dollar)
    assert set(PRICE_COLUMNS) <= set(out.columns)


@pytest.mark.parametrize(("baseline", "words"), [("nope", "no run id"), ("u", "no priced")])
def test_an_unusable_baseline_is_a_user_error_naming_it(baseline, words):
    """A baseline that names nothing, or an unpriced host, cannot anchor a comparison."""
    with pytest.raises(UserError, match=words) as err:
        add_prices(_frame(), MATCHES, baseline)
    assert repr(baseline) in str(err.value)


def test_adding_prices_twice_replaces_the_columns():
    """Re-pricing a frame (say with a price file) does not duplicate columns."""
    once = add_prices(_frame(), MATCHES)
    assert list(add_prices(once, MATCHES).columns) == list(once.columns)


# ------------------------------------------------------------------------------ summaries


def test_suite_summary_is_the_geomean_of_case_ratios_per_category_and_overall():
    """c8g.xlarge rate: 4e6/s against c8a.large's 2e6/s on both workloads: ratio 2; two equal
    ratios from one process each have no interval (nothing shows how processes differ)."""
    summary = suite_summary(add_prices(_frame(), MATCHES), "c8a.large")
    got = summary.set_index(["group", "mode", "category"])
    assert got.loc[("c8g.xlarge", "rate", "all")].geomean == pytest.approx(2.0)
    assert got.loc[("c8g.xlarge", "rate", "all")].n == 2
    both = got.loc[("c8g.xlarge", "rate", "all")]
    assert both.method == "not judged: all 2 cases were measured in one process on a side"
    assert math.isnan(both.ci_low) and math.isnan(both.ci_high)
    one = got.loc[("c8g.xlarge", "rate", "embed")]  # one workload in one process: no interval
    assert one.n == 1 and one.method.startswith("not judged: the case") and math.isnan(one.ci_low)
    assert got.loc[("host-u", "rate", "all")].geomean == pytest.approx(4.0)
    assert got.loc[("c8a.large", "speed", "all")].geomean == pytest.approx(1.0)


def test_perf_per_dollar_summary_uses_only_priced_rows():
    """Price-performance is summarised only where a whole instance was priced."""
    summary = suite_summary(add_prices(_frame(), MATCHES), "c8a.large", metric="perf_per_dollar")
    assert set(summary["mode"]) == {"rate"} and "host-u" not in set(summary.group)
    g = summary.set_index(["group", "category"]).loc[("c8g.xlarge", "all")]
    assert g.geomean == pytest.approx((4e6 / 0.1595) / (2e6 / 0.10778))


@settings(max_examples=15, deadline=None)
@given(st.randoms())
def test_row_order_does_not_change_the_summary(rnd):
    """Summaries reduce rows per case and sort before resampling: any order, same table."""
    frame = add_prices(_frame(), MATCHES)
    frame.loc[frame.run_id == "g", "median_s"] *= [0.9, 1.1, 1.0, 1.3, 0.8, 1.0]
    frame["throughput"] = frame.work / frame.median_s
    order = list(frame.index)
    rnd.shuffle(order)
    expected = suite_summary(frame, "c8a.large", n_resamples=200)
    got = suite_summary(frame.loc[order], "c8a.large", n_resamples=200)
    pd.testing.assert_frame_equal(got, expected)


def test_summary_leaves_out_emulated_rows_and_refuses_unknown_baselines_and_metrics():
    """QEMU timings are never compared with native ones; bad names are UserErrors."""
    frame = add_prices(_frame(), MATCHES)
    emulated = frame.assign(emulated=frame.run_id == "g")
    assert "c8g.xlarge" not in set(suite_summary(emulated, "c8a.large").group)
    with pytest.raises(UserError, match=re.escape("'c9g.large'")):
        suite_summary(frame, "c9g.large")
    with pytest.raises(UserError, match=re.escape("'median_s'")):
        suite_summary(frame, "c8a.large", metric="median_s")


def test_summary_leaves_out_noisy_rows():
    """A case measured while the host was busy is never part of a suite verdict."""
    frame = add_prices(_frame(), MATCHES)
    noisy = frame.assign(noisy=frame.run_id == "g")
    assert "c8g.xlarge" in set(suite_summary(frame, "c8a.large").group)
    assert "c8g.xlarge" not in set(suite_summary(noisy, "c8a.large").group)
    with pytest.raises(UserError, match="noisy and emulated cases are left out"):
        suite_summary(frame.assign(noisy=True), "c8a.large")


# ---------------------------------------------------------------------------- roofline columns

ROOFLINE = {"threads": [1], "triad_gbs": {"1": 20.0}, "fma_gflops": {"1": 100.0},
            "llc_bytes": 32 << 20}  # fmt: skip


def _roof_row(bound: str, nbytes: float, roofline: dict[str, Any] = ROOFLINE) -> dict[str, Any]:
    """The export row of one speed case that moved ``nbytes`` and did 1e9 ops in 0.1 s."""
    case = {"id": "w/small/speed/t1/native", "workload": "w", "size": "small", "n": 1,
            "mode": "speed", "threads": 1, "profile": "native", "category": "embed",
            "unit": "rows", "bound": bound, "work": 1e6, "bytes": nbytes, "flops": 1e9,
            "status": "ok", "compile_s": 0.5, "stats": {"median_s": 0.1, "rounds": 5}}  # fmt: skip
    manifest = {"run_id": "r", "environment": {"host": "h", "arch": "x86_64"}, "cases": [case],
                "roofline": roofline}  # fmt: skip
    return dict(export_rows([Run(Path("."), manifest, {})]).iloc[0])


def test_an_integer_workload_gets_no_flop_roof_and_no_fraction():
    """Integer operations are not read against the FMA peak, nor reported as GFLOP/s."""
    row = _roof_row("integer", 1e9)
    assert row["roof_limit"] == "integer" and math.isnan(row["roof_value"])
    assert math.isnan(row["attained"]) and math.isnan(row["gflops"])
    assert row["bandwidth_gbs"] == pytest.approx(10.0)
    assert "integer: no FLOP roof" in _summary_row(row)


def test_a_compute_bound_case_is_read_against_the_fma_peak():
    """1e9 flops in 0.1 s on a 100 GFLOP/s host is 10% of its roof, cache or not."""
    row = _roof_row("compute", 1e6)
    assert (row["roof_limit"], row["attained"]) == ("fma_gflops", pytest.approx(0.1))


def test_a_cache_resident_case_is_labelled_and_given_no_dram_fraction():
    """Bytes that fit in the last-level cache beat DRAM: labelled, never a fraction of triad."""
    row = _roof_row("memory", 16 << 20)
    assert row["roof_limit"] == "cache-resident" and math.isnan(row["attained"])
    assert "cache-resident" in _summary_row(row)
    dram = _roof_row("memory", 1e9)
    assert (dram["roof_limit"], dram["attained"]) == ("triad_gbs", pytest.approx(0.5))
    assert "50% of triad" in _summary_row(dram)


@pytest.mark.parametrize(("llc", "nbytes", "limit"), [
    (None, 30 << 20, "cache-resident"), (None, 40 << 20, "triad_gbs"),
    (256 << 20, 200 << 20, "cache-resident"), (256 << 20, 300 << 20, "triad_gbs"),
])  # fmt: skip
def test_cache_residency_uses_the_recorded_llc_else_32_mib(llc, nbytes, limit):
    """A run whose probes recorded no cache size is judged against a fixed 32 MiB."""
    roofline = {**ROOFLINE, "llc_bytes": llc}
    assert _roof_row("memory", nbytes, roofline)["roof_limit"] == limit
