"""Cases measured in several worker processes: fixed input layout, pooled rounds, and the test
compare runs on the processes' medians."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURE_WORKLOADS, Harness
from harness.analysis.significance import pair_test, welch_log
from harness.measure.placement import PAGE, STAGGER, place

medians = st.lists(st.floats(1e-6, 1.0), min_size=2, max_size=12)


def test_placed_inputs_keep_values_and_start_at_fixed_offsets() -> None:
    """Every array lands at a page plus its own stagger; scalars and nesting pass through."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(1000), rng.integers(0, 9, (7, 5))
    out = place((a, 3, (b, "x"), [a[:10]]))
    assert out[1] == 3 and out[2][1] == "x"
    for k, (got, want) in enumerate([(out[0], a), (out[2][0], b), (out[3][0], a[:10])]):
        assert np.array_equal(got, want) and got.dtype == want.dtype
        assert got.ctypes.data % PAGE == (k * STAGGER) % PAGE


def test_strided_arrays_are_left_where_they_are() -> None:
    """A non-contiguous view keeps its layout: a kernel may rely on it."""
    a = np.arange(100.0)[::2]
    assert place((a,))[0] is a


@given(medians)
def test_identical_process_medians_never_differ(values: list[float]) -> None:
    """The same replicates on both sides give ratio 1 and no significance."""
    test = welch_log(values, values)
    assert test.time_ratio == pytest.approx(1.0) and (test.p_value or 0) > 0.5


@settings(deadline=None)
@given(st.lists(st.floats(0.97, 1.03), min_size=3, max_size=10), st.floats(1e-5, 1.0))
def test_a_thirty_percent_slowdown_within_three_percent_noise_is_significant(
    spread: list[float], scale: float
) -> None:
    """Every replicate 1.3x slower, with the processes within 3% of each other, is found; with
    three processes 3% apart the interval's low end can sit at 1.197 (t with about 4 df)."""
    base = [scale * s for s in spread]
    test = welch_log(base, [1.3 * x for x in base])
    assert test.time_ratio == pytest.approx(1.3)
    assert test.p_value is not None and test.p_value < 1e-3 and test.ratio.low > 1.15


def test_one_process_on_a_side_is_not_judged() -> None:
    """Without two replicates per side the pair gets a ratio but no interval and no p-value."""
    test = pair_test([1.0], [2.0, 2.1])
    assert test.method == "not judged: one process" and test.p_value is None
    assert test.time_ratio == pytest.approx(2.05) and not test.ratio.has_interval
    both = pair_test([1.0, 1.1], [2.0, 2.2])
    assert both.method == "processes" and math.isclose(both.time_ratio, 2.0)


def test_three_processes_time_equal_rounds_and_keep_each_median(
    harness: Harness, tmp_path: Path
) -> None:
    """``--processes 3``: one case entry, as many rounds from each of three workers, cold
    compile from the first."""
    out = tmp_path / "out"
    result = harness("run", "--size", "tiny", "--mode", "speed", "--workloads", "triad",
                     "--no-roofline", "--processes", "3", "--min-rounds", "9",
                     "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run,) = out.iterdir()
    (case,) = json.loads((run / "manifest.json").read_text())["cases"]
    (bench,) = json.loads((run / "benchmarks.json").read_text())["benchmarks"]
    sizes = bench["extra_info"]["process_rounds"]
    assert len(case["process_medians"]) == 3 and len(sizes) == 3 and min(sizes) >= 3
    assert len(set(sizes)) == 1, sizes
    assert case["stats"]["rounds"] == sum(sizes) == len(bench["stats"]["data"])
    assert bench["stats"]["rounds"] == sum(sizes)
    assert case["compile_s"] > case["cache_load_s"] > 0
    assert result.stdout.count("triad/tiny") <= 2  # one line per case, not per process


def _adaptive_run(harness: Harness, out: Path, *extra: str) -> tuple[dict, str]:  # type: ignore[type-arg]
    result = harness("run", "--size", "tiny", "--mode", "speed", "--workloads", "triad",
                     "--no-roofline", "--processes", "3", "--out", str(out), *extra)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run,) = out.iterdir()
    (case,) = json.loads((run / "manifest.json").read_text())["cases"]
    return case, result.stderr


def test_a_case_wider_than_the_ci_target_gets_processes_up_to_the_cap(
    harness: Harness, tmp_path: Path
) -> None:
    """A target no interval can meet adds one process a pass until --max-processes, and the
    case records that it was not met."""
    case, err = _adaptive_run(harness, tmp_path / "o", "--ci-target", "0.000001",
                              "--max-processes", "5")  # fmt: skip
    assert len(case["process_medians"]) == 5
    assert case["precision"]["met"] is False and case["precision"]["target"] == 0.000001
    assert "1 case(s) reached --max-processes 5" in err and "0/1 case(s) within" in err


def test_forked_replicates_reach_the_cap_and_say_so(harness: Harness, tmp_path: Path) -> None:
    """With --replicates fork the added processes are forked children: the case still reaches
    --max-processes, each timing as many rounds as the first, and the line says forked."""
    case, err = _adaptive_run(harness, tmp_path / "o", "--ci-target", "0.000001",
                              "--max-processes", "7", "--replicates", "fork")  # fmt: skip
    assert len(case["process_medians"]) == 7 and case["precision"]["met"] is False
    assert "forked process(es) more" in err and "reached --max-processes 7" in err
    (run,) = (tmp_path / "o").iterdir()
    (bench,) = json.loads((run / "benchmarks.json").read_text())["benchmarks"]
    assert len(set(bench["extra_info"]["process_rounds"])) == 1
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["options"]["replicates"] == "fork"


def test_a_forked_replicate_that_crashes_fails_only_its_case(
    harness: Harness, tmp_path: Path
) -> None:
    """A segfault in a forked replicate fails that case as a later process's crash; the other
    workload of the run still gets its forked processes."""
    out = tmp_path / "o"
    result = harness("run", "--size", "tiny", "--mode", "speed", "--no-roofline",
                     "--workload-path", str(FIXTURE_WORKLOADS), "--workloads",
                     "faulty_forked,triad", "--processes", "3", "--ci-target", "0.000001",
                     "--max-processes", "5", "--replicates", "fork", "--out", str(out))  # fmt: skip
    assert result.returncode == 1, result.stderr
    (run,) = out.iterdir()
    cases = {c["workload"]: c for c in json.loads((run / "manifest.json").read_text())["cases"]}
    assert cases["faulty_forked"]["status"] == "failed"
    assert "a later process: worker killed by SIGSEGV" in cases["faulty_forked"]["error"]
    assert len(cases["triad"]["process_medians"]) == 5


def test_a_met_ci_target_adds_no_process(harness: Harness, tmp_path: Path) -> None:
    """A target the first processes already meet runs no more, and says every case met it."""
    case, err = _adaptive_run(harness, tmp_path / "o", "--ci-target", "0.9")
    assert len(case["process_medians"]) == 3 and case["precision"]["met"] is True
    assert case["precision"]["half_width"] <= 0.9 and "every case met the target" in err


def test_a_cap_below_the_process_count_is_one_line(harness: Harness, tmp_path: Path) -> None:
    """``--max-processes`` under ``--processes`` is refused before anything runs."""
    result = harness(
        "run", "--processes", "5", "--max-processes", "3", "--out", str(tmp_path / "o")
    )
    assert result.returncode == 2 and "--max-processes 3 is below --processes 5" in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_bad_process_count_is_one_line(harness: Harness, tmp_path: Path) -> None:
    """``--processes 0`` is refused before anything runs."""
    result = harness("run", "--processes", "0", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "processes '0'" not in result.stderr
    assert "processes 0 must be a whole number from 1 to 100" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_affinity_prefers_an_isolated_cpu_then_the_first_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``auto`` takes an isolated CPU the harness may use, else the lowest usable one."""
    from harness.measure import affinity

    isolated = tmp_path / "isolated"
    isolated.write_text("2-3,7\n")
    monkeypatch.setattr(affinity, "ISOLATED", isolated)
    assert affinity.isolated_cpus(isolated) == {2, 3, 7}
    assert affinity.choose("auto", {0, 1, 3}) == 3
    assert affinity.choose("auto", {4, 5}) == 4
    assert affinity.choose("none", {0, 1}) is None and affinity.choose("1", {0, 1}) == 1


@pytest.mark.parametrize("spec", ["9", "-1", "x"])
def test_affinity_outside_the_usable_cpus_is_refused(spec: str) -> None:
    """A CPU the harness may not use is named in a user error."""
    from harness.errors import UserError
    from harness.measure.affinity import choose

    with pytest.raises(UserError, match=f"--affinity '{spec}'"):
        choose(spec, {0, 1})
