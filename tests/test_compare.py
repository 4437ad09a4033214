"""Regression detection between two sets of runs written on disk in the real result format."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Harness
from harness.analysis.compare import Comparison, compare_runs, exit_code
from harness.analysis.compare_text import render
from harness.errors import UserError
from harness.measure.sample_stats import median_ci
from harness.pricing.catalog import load_catalog
from harness.results import SCHEMA, SCHEMA_VERSION, Run, find_runs

X86 = {
    "host": "bench-x86", "arch": "x86_64",
    "cpu": {"name": "AMD EPYC 7R13 Processor", "vendor": "AuthenticAMD"},
    "llvm": {"cpu_name": "znver3", "features": "+avx2"},
    "cloud": {"cloud": "aws", "instance_type": "c6a.xlarge"},
    "topology": {"logical_cpus": 4, "physical_cores": 2},
}  # fmt: skip
ARM = {
    "host": "bench-arm", "arch": "aarch64",
    "cpu": {"name": "Neoverse-V1", "vendor": "ARM"},
    "llvm": {"cpu_name": "neoverse-v1", "features": "+sve"},
    "cloud": {"cloud": "aws", "instance_type": "c7g.xlarge"},
    "topology": {"logical_cpus": 4, "physical_cores": 4},
}  # fmt: skip
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Case:
    """A case to write: what it is and its raw round times (seconds)."""

    workload: str
    samples: Sequence[float] = ()
    size: str = "small"
    mode: str = "speed"
    threads: int = 1
    profile: str | None = None
    status: str = "ok"
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    processes: int = 5  # the rounds are dealt round-robin to this many worker processes

    @property
    def id(self) -> str:
        text = f"{self.workload}/{self.size}/{self.mode}/t{self.threads}"
        return text if self.profile is None else f"{text}/{self.profile}"


def _bench_entry(case: Case) -> dict[str, Any]:
    data = [float(x) for x in case.samples]
    q1, med, q3 = (float(v) for v in np.percentile(data, [25, 50, 75]))
    stats = {"min": min(data), "max": max(data), "mean": float(np.mean(data)), "median": med,
             "stddev": float(np.std(data, ddof=1)) if len(data) > 1 else 0.0, "q1": q1, "q3": q3,
             "iqr": q3 - q1, "rounds": len(data), "iterations": 1, "total": sum(data),
             "ops": 1 / float(np.mean(data)), "data": data}  # fmt: skip
    return {"group": case.workload, "name": f"{case.workload}[{case.id}]",
            "fullname": f"workloads/{case.workload}.py::{case.id}", "params": None,
            "param": None, "extra_info": {"case": case.id, "workload": case.workload},
            "options": {"timer": "perf_counter", "min_rounds": 5}, "stats": stats}  # fmt: skip


def _manifest_case(case: Case) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": case.id, "workload": case.workload, "category": "evaluate", "unit": "rows",
        "size": case.size, "n": 1000, "mode": case.mode, "threads": case.threads, "work": 1000,
        "status": case.status, "error": case.error, **case.extra,
    }  # fmt: skip
    if case.profile is not None:
        entry["profile"] = case.profile
    if case.status == "ok":
        ci = median_ci(case.samples)
        entry["stats"] = {"median_s": ci.value, "ci_low_s": ci.low, "ci_high_s": ci.high,
                          "rounds": len(case.samples)}  # fmt: skip
        entry["throughput"] = 1000 / ci.value
        k = max(1, min(case.processes, len(case.samples)))
        entry["process_medians"] = [float(np.median(case.samples[i::k])) for i in range(k)]
    return entry


def write_run(
    root: Path, run_id: str, cases: Sequence[Case], env: dict[str, Any] | None = None,
    created: str = "2025-01-01T03:00:00+00:00",
) -> Path:  # fmt: skip
    """Write ``root/run_id`` with manifest.json and benchmarks.json as the harness does."""
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    manifest = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "run_id": run_id,
                "created": created, "status": "complete", "environment": env or X86,
                "cases": [_manifest_case(c) for c in cases]}  # fmt: skip
    benches = [_bench_entry(c) for c in cases if c.status == "ok"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    bench = {"machine_info": {}, "commit_info": {}, "benchmarks": benches,
             "datetime": created, "version": "5.3.0"}  # fmt: skip
    (run_dir / "benchmarks.json").write_text(json.dumps(bench))
    return run_dir


def load(root: Path, run_id: str, cases: Sequence[Case], **kw: Any) -> list[Run]:
    """Write one run and read it back through the harness's own reader."""
    return find_runs([write_run(root, run_id, cases, **kw)])


def noisy(level: float, noise: Sequence[float], scale: float = 1.0) -> list[float]:
    """Round times around ``level``, each off by a relative ``noise``."""
    return [level * scale * (1 + e) for e in noise]


NOISE = st.lists(st.floats(-0.03, 0.03), min_size=10, max_size=16)
LEVELS = st.floats(1e-5, 2.0)
CASES = st.lists(st.tuples(LEVELS, NOISE), min_size=1, max_size=5)


def _pair_runs(
    tmp: Path, specs: Sequence[tuple[float, Sequence[float]]], scale: float, order: Sequence[int]
) -> Comparison:
    base = [Case(f"w{i}", noisy(level, noise)) for i, (level, noise) in enumerate(specs)]
    cand = [Case(f"w{i}", noisy(level, noise, scale)) for i, (level, noise) in enumerate(specs)]
    tag = f"{scale}-{'-'.join(map(str, order))}-{len(list(tmp.iterdir()))}"
    base_runs = load(tmp, f"base-{tag}", base)
    cand_runs = load(tmp, f"cand-{tag}", [cand[i] for i in order])
    return compare_runs(base_runs, cand_runs)


@SETTINGS
@given(specs=CASES)
def test_identical_samples_never_flag(tmp_path_factory: pytest.TempPathFactory, specs: Any) -> None:
    """Comparing runs whose raw rounds are identical finds no change and exits 0."""
    result = _pair_runs(tmp_path_factory.mktemp("aa"), specs, 1.0, range(len(specs)))
    assert {p.verdict for p in result.pairs} == {"not significant"}
    assert exit_code(result) == 0


@SETTINGS
@given(specs=CASES)
def test_every_case_slowed_by_30_percent_is_flagged(
    tmp_path_factory: pytest.TempPathFactory, specs: Any
) -> None:
    """Scaling every round of every case by 1.3 makes every pair a regression and exits 1."""
    result = _pair_runs(tmp_path_factory.mktemp("slow"), specs, 1.3, range(len(specs)))
    assert len(result.pairs) == len(specs)
    assert all(p.verdict == "regression" for p in result.pairs)
    assert all(p.time_ratio == pytest.approx(1.3) for p in result.pairs)
    assert all(p.time.low > 1.0 and p.throughput_ratio < 1.0 for p in result.pairs)
    assert exit_code(result) == 1


@SETTINGS
@given(specs=CASES)
def test_every_case_sped_up_is_an_improvement_and_passes(
    tmp_path_factory: pytest.TempPathFactory, specs: Any
) -> None:
    """Dividing every round by 1.3 is an improvement in every pair and exits 0."""
    result = _pair_runs(tmp_path_factory.mktemp("fast"), specs, 1 / 1.3, range(len(specs)))
    assert all(p.verdict == "improvement" for p in result.pairs)
    assert exit_code(result) == 0


MIXED = st.lists(
    st.tuples(LEVELS, NOISE, st.sampled_from([1.0, 1.02, 1.1, 1.3, 0.7])), min_size=2, max_size=6
)


@SETTINGS
@given(specs=MIXED, data=st.data())
def test_order_of_cases_does_not_change_verdicts(
    tmp_path_factory: pytest.TempPathFactory, specs: Any, data: st.DataObject
) -> None:
    """Shuffling the candidate's cases gives the same verdict, ratio and interval per case."""
    tmp = tmp_path_factory.mktemp("order")
    order = data.draw(st.permutations(range(len(specs))))
    base = [Case(f"w{i}", noisy(lv, ns)) for i, (lv, ns, _) in enumerate(specs)]
    cand = [Case(f"w{i}", noisy(lv, ns, k)) for i, (lv, ns, k) in enumerate(specs)]
    first = compare_runs(load(tmp, "b1", base), load(tmp, "c1", cand))
    shuffled = compare_runs(load(tmp, "b2", base[::-1]), load(tmp, "c2", [cand[i] for i in order]))
    assert {p.case: p for p in first.pairs} == {p.case: p for p in shuffled.pairs}


@SETTINGS
@given(specs=MIXED)
def test_bh_never_flags_more_than_the_raw_tests(
    tmp_path_factory: pytest.TempPathFactory, specs: Any
) -> None:
    """Every pair significant after Benjamini-Hochberg was significant before it."""
    tmp = tmp_path_factory.mktemp("bh")
    base = [Case(f"w{i}", noisy(lv, ns)) for i, (lv, ns, _) in enumerate(specs)]
    cand = [Case(f"w{i}", noisy(lv, ns[::-1], k)) for i, (lv, ns, k) in enumerate(specs)]
    result = compare_runs(load(tmp, "b", base), load(tmp, "c", cand))
    tested = [p for p in result.pairs if p.p_value is not None and p.p_adjusted is not None]
    assert all(p.p_adjusted >= p.p_value for p in tested)  # type: ignore[operator]
    raw = {p.case for p in tested if p.p_value <= result.alpha}  # type: ignore[operator]
    adjusted = {p.case for p in tested if p.p_adjusted <= result.alpha}  # type: ignore[operator]
    flagged = {p.case for p in result.regressions + result.improvements}
    assert flagged <= adjusted <= raw


def test_small_significant_change_is_below_threshold(tmp_path: Path) -> None:
    """A clearly significant 2% slowdown is reported but does not fail the comparison."""
    noise = list(np.linspace(-0.002, 0.002, 15))
    result = compare_runs(
        load(tmp_path, "b", [Case("w", noisy(0.01, noise))]),
        load(tmp_path, "c", [Case("w", noisy(0.01, noise, 1.02))]),
    )
    assert [p.verdict for p in result.pairs] == ["below threshold"]
    assert result.pairs[0].p_adjusted is not None and result.pairs[0].p_adjusted < 0.001
    assert exit_code(result) == 0


def test_different_machines_are_never_paired_and_judging_nothing_fails(tmp_path: Path) -> None:
    """An x86 base and an aarch64 candidate share no pair: exit 1 naming what differed."""
    cases = [Case("w", noisy(0.01, [0.01 * i for i in range(-3, 4)]))]
    slow = [Case("w", noisy(0.01, [0.01 * i for i in range(-3, 4)], 2.0))]
    base, cand = load(tmp_path, "b", cases), load(tmp_path, "c", slow, env=ARM)
    result = compare_runs(base, cand)
    assert result.pairs == ()
    assert sorted(n.side for n in result.unpaired) == ["base", "candidate"]
    assert exit_code(result) == 1
    text = render(result, "text")
    assert text.startswith("NOTHING COMPARED: no case ran on the same kind of machine")
    assert "arch (base: x86_64; candidate: aarch64)" in text
    assert exit_code(compare_runs(base, cand, allow_empty=True)) == 0


def test_a_runner_whose_cpu_changed_fails_through_the_cli(tmp_path: Path, harness: Harness) -> None:
    """`harness compare` of a run against a copy relabelled to another CPU exits 1 and says so."""
    cases = [Case("w", noisy(0.01, [0.01 * i for i in range(-3, 4)]))]
    other = X86 | {"cpu": {"name": "Intel(R) Xeon(R) Platinum 8488C", "vendor": "GenuineIntel"}}
    base, cand = write_run(tmp_path, "b", cases), write_run(tmp_path, "c", cases, env=other)
    result = harness("compare", str(base), str(cand))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "NOTHING COMPARED" in result.stdout and "CPU (base: AMD EPYC 7R13" in result.stdout
    allowed = harness("compare", str(base), str(cand), "--allow-empty")
    assert allowed.returncode == 0 and "allowed by --allow-empty" in allowed.stdout


def test_pairs_need_the_same_size_mode_threads_and_profile(tmp_path: Path) -> None:
    """Cases that differ in size, mode, threads or profile stay unpaired."""
    s = noisy(0.01, [0.0, 0.01, -0.01])
    base = [Case("w", s), Case("w", s, mode="rate", threads=4), Case("w", s, profile="v3")]
    cand = [Case("w", s, size="large"), Case("w", s, mode="rate", threads=2), Case("w", s)]
    result = compare_runs(load(tmp_path, "b", base), load(tmp_path, "c", cand))
    assert [p.case for p in result.pairs] == ["w/small/speed/t1"]
    assert {n.case for n in result.unpaired} == {
        "w/small/rate/t4", "w/small/speed/t1 [v3]", "w/large/speed/t1", "w/small/rate/t2",
    }  # fmt: skip


def test_change_measured_on_a_noisy_host_is_not_judged(tmp_path: Path) -> None:
    """A 30% slowdown whose candidate ran while other load was high is shown but passes."""
    noise = list(np.linspace(-0.01, 0.01, 12))
    flag = {"host_load": {"steal": 0.0, "other_load": 0.4, "noisy": True}}
    cand = [Case("w", noisy(0.01, noise, 1.3), extra=flag), Case("v", noisy(0.01, noise, 1.3))]
    base = [Case("w", noisy(0.01, noise)), Case("v", noisy(0.01, noise))]
    result = compare_runs(load(tmp_path, "b", base), load(tmp_path, "c", cand))
    assert {p.case: p.verdict for p in result.pairs} == {
        "w/small/speed/t1": "noisy host", "v/small/speed/t1": "regression",
    }  # fmt: skip
    mixed = [cand[0], Case("v", noisy(0.01, noise))]  # v quiet and unchanged: judged, passes
    passed = compare_runs(load(tmp_path, "b1", base), load(tmp_path, "c1", mixed))
    assert exit_code(passed) == 0 and passed.empty is None
    assert "1 change(s) on a noisy host not judged" in render(passed, "text")
    only_noisy = compare_runs(load(tmp_path, "b2", base), load(tmp_path, "c2", cand[:1]))
    assert exit_code(only_noisy) == 1
    assert render(only_noisy, "text").startswith(
        "NOT JUDGED: none of the 1 paired cases could be judged: 1 measured on a noisy host"
    )
    allowed = compare_runs(load(tmp_path, "b3", base), load(tmp_path, "c3", cand[:1]),
                           allow_empty=True)  # fmt: skip
    assert exit_code(allowed) == 0


def test_failed_candidate_case_is_broken_and_fails(tmp_path: Path) -> None:
    """A case ok in the base and failed in the candidate is listed as broken and exits 1."""
    s = noisy(0.01, [0.0, 0.01, -0.01, 0.02])
    cand = [Case("w", status="failed", error="output does not match the reference"), Case("v", s)]
    result = compare_runs(
        load(tmp_path, "b", [Case("w", s), Case("v", s)]), load(tmp_path, "c", cand)
    )
    assert [(n.case, n.error) for n in result.broken] == [
        ("w/small/speed/t1", "output does not match the reference")
    ]
    assert exit_code(result) == 1
    assert "does not match the reference" in render(result, "markdown")


def test_across_arch_reports_throughput_and_perf_per_dollar(tmp_path: Path) -> None:
    """Across architectures each case pairs x86 with aarch64, with ratios and no verdict."""
    noise = [0.0, 0.01, -0.01, 0.005, -0.005]
    base = load(tmp_path, "x", [Case("w", noisy(0.02, noise)), Case("v", noisy(0.01, noise))])
    cand = load(tmp_path, "a", [Case("w", noisy(0.01, noise)), Case("v", noisy(0.01, noise))],
                env=ARM)  # fmt: skip
    prices = tmp_path / "negotiated.toml"
    prices.write_text(
        '[[price]]\ntype = "c6a.xlarge"\nprice_per_hour = 0.153\nkind = "reserved"\n'
        '[[price]]\ntype = "c7g.xlarge"\nprice_per_hour = 0.145\nkind = "reserved"\n'
    )
    result = compare_runs(base, cand, across_arch=True, prices=prices)
    ratios = {p.case: p for p in result.pairs}
    assert ratios["w/small/speed/t1"].throughput_ratio == pytest.approx(2.0)
    assert ratios["w/small/speed/t1"].perf_per_dollar == pytest.approx(2.0 * 0.153 / 0.145)
    assert {p.verdict for p in result.pairs} == {"across-arch"}
    assert result.geomean_throughput_ratio == pytest.approx(2.0**0.5)
    assert exit_code(compare_runs(base, cand, across_arch=True)) == 0
    assert "ACROSS ARCHITECTURES" in render(result, "markdown")


def _table(text: str) -> list[list[str]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in lines]


def test_markdown_is_a_valid_table_with_regressions_first(tmp_path: Path) -> None:
    """The markdown has a verdict line, then a table whose rows match the header, worst first."""
    noise = list(np.linspace(-0.01, 0.01, 12))
    base = [Case(w, noisy(0.01, noise)) for w in ("a|pipe", "b", "c")]
    cand = [Case("a|pipe", noisy(0.01, noise)), Case("b", noisy(0.01, noise, 1.5)),
            Case("c", noisy(0.01, noise, 1.2))]  # fmt: skip
    text = render(compare_runs(load(tmp_path, "b", base), load(tmp_path, "c", cand)), "markdown")
    assert text.splitlines()[0].startswith("**FAIL: 2 regression(s)")
    rows = _table(text)
    assert all(len(r) == len(rows[0]) for r in rows)
    assert all(re.fullmatch(r"-+", c) for c in rows[1])
    assert [r[0] for r in rows[2:]] == ["regression", "regression", "not significant"]
    assert rows[2][1] == "b/small/speed/t1" and rows[4][1] == "a\\|pipe/small/speed/t1"


def test_json_has_no_nan_and_round_trips(tmp_path: Path) -> None:
    """JSON output is strict JSON (no NaN) with the verdict and the exit code; a pair with one
    process on a side is not judged, and judging nothing exits 1."""
    s = noisy(0.01, [0.0, 0.01, -0.01])
    result = compare_runs(
        load(tmp_path, "b", [Case("w", s[:1])]), load(tmp_path, "c", [Case("w", s)])
    )
    data = json.loads(render(result, "json"), parse_constant=lambda c: pytest.fail(c))
    assert data["pairs"][0]["verdict"] == "not judged: one process"
    assert data["pairs"][0]["time_ci"] == [None, None] and data["pairs"][0]["p_value"] is None
    assert data["exit_code"] == 1 and "1 with one worker process" in data["not_judged"]


def test_bad_input_names_the_bad_value(tmp_path: Path) -> None:
    """Unknown formats, empty run lists and bad settings raise UserError naming the value."""
    runs = load(tmp_path, "b", [Case("w", [0.01, 0.02])])
    with pytest.raises(UserError, match="'html'"):
        render(compare_runs(runs, runs), "html")
    with pytest.raises(UserError, match="empty base"):
        compare_runs([], runs)
    with pytest.raises(UserError, match="empty candidate"):
        compare_runs(runs, [])
    with pytest.raises(UserError, match=r"-0\.1"):
        compare_runs(runs, runs, threshold=-0.1)
    with pytest.raises(UserError, match=r"alpha 1\.5"):
        compare_runs(runs, runs, alpha=1.5)


def test_across_arch_through_the_cli_prices_both_hosts_from_the_catalog(
    tmp_path: Path, harness: Harness
) -> None:
    """`harness compare --across-arch` prices each side from the catalog row its host matches."""
    noise = [0.0, 0.01, -0.01, 0.005, -0.005]
    base = write_run(tmp_path, "x", [Case("w", noisy(0.02, noise))])
    cand = write_run(tmp_path, "a", [Case("w", noisy(0.01, noise))], env=ARM)
    result = harness("compare", str(base), str(cand), "--across-arch", "--format", "json")
    assert result.returncode == 0, result.stderr
    (pair,) = json.loads(result.stdout)["pairs"]
    catalog = load_catalog()
    expected = 2.0 * catalog["c6a.xlarge"].price_per_hour / catalog["c7g.xlarge"].price_per_hour
    assert pair["perf_per_dollar"] == pytest.approx(expected)
    text = harness("compare", str(base), str(cand), "--across-arch").stdout
    assert "no price" not in text


def test_compare_prices_flag_lays_a_price_file_over_the_catalog(
    tmp_path: Path, harness: Harness
) -> None:
    """`compare --prices FILE` prices a host at the file's rate, the other from the catalog."""
    noise = [0.0, 0.01, -0.01, 0.005, -0.005]
    base = write_run(tmp_path, "x", [Case("w", noisy(0.02, noise))])
    cand = write_run(tmp_path, "a", [Case("w", noisy(0.01, noise))], env=ARM)
    prices = tmp_path / "spot.toml"
    prices.write_text('[[price]]\ntype = "c7g.xlarge"\nprice_per_hour = 0.05\nkind = "spot"\n')
    args = ("compare", str(base), str(cand), "--across-arch", "--format", "json")
    result = harness(*args, "--prices", str(prices))
    assert result.returncode == 0, result.stderr
    (pair,) = json.loads(result.stdout)["pairs"]
    assert pair["perf_per_dollar"] == pytest.approx(
        2.0 * load_catalog()["c6a.xlarge"].price_per_hour / 0.05
    )
    missing = harness(*args, "--prices", str(tmp_path / "none.toml"))
    assert missing.returncode == 2 and "none.toml" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_the_run_banner_counts_noisy_cases_and_says_why(tmp_path: Path) -> None:
    """After a run, one line says how many cases ran on a busy host and how busy it was."""
    from harness.run.command import noise_banner

    s = noisy(0.01, [0.0, 0.01, -0.01])
    flag = {"host_load": {"steal": 0.031, "other_load": 0.72, "noisy": True}}
    run = write_run(tmp_path, "r", [Case("w", s, extra=flag), Case("v", s)])
    banner = noise_banner(run)
    assert banner is not None and "1 of 2 cases" in banner
    assert "steal 3.1%" in banner and "72.0%" in banner
    assert noise_banner(write_run(tmp_path, "q", [Case("v", s)])) is None
