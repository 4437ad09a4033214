"""End to end: real worker processes measure real kernels, and faults stay inside their case."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURE_WORKLOADS, Harness
from harness.results import SCHEMA_VERSION

pytestmark = pytest.mark.slow


def _only_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def _cases(run: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["id"]: c for c in json.loads((run / "manifest.json").read_text())["cases"]}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One tiny run of the probe and an AI workload, shared by the tests below."""
    out = tmp_path_factory.mktemp("results")
    cache = tmp_path_factory.mktemp("cache")
    result = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--size", "tiny", "--out", str(out),
         "--workloads", "triad,logprob_eval", "--cache-dir", str(cache), "--report"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    return _only_run(out), result.stdout


def test_tiny_run_validates_and_times_every_case(tiny_run: tuple[Path, str]) -> None:
    """Every case passes its reference check; measured in one process (the tests' default), it
    has a median and no interval, and says why."""
    run, _ = tiny_run
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["schema_version"] == SCHEMA_VERSION == 2
    for case in manifest["cases"]:
        assert case["status"] == "ok", case
        assert case["validation"]["ok"]
        s = case["stats"]
        assert s["median_s"] > 0 and "ci_low_s" not in s and "ci_high_s" not in s
        assert s["ci_method"].startswith("not judged: one process")
        assert 0 < s["within_low_s"] <= s["within_median_s"] <= s["within_high_s"]
        assert case["compile_s"] > 0


def test_raw_samples_are_kept_in_pytest_benchmark_format(tiny_run: tuple[Path, str]) -> None:
    """benchmarks.json holds every round's time, and pytest-benchmark's own compare reads it."""
    run, _ = tiny_run
    data = json.loads((run / "benchmarks.json").read_text())
    assert data["machine_info"]["machine"] and data["version"].startswith("5.")
    for bench in data["benchmarks"]:
        assert len(bench["stats"]["data"]) == bench["stats"]["rounds"] >= 5
    compare = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", str(run / "benchmarks.json")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert compare.returncode == 0, compare.stderr
    assert "triad" in compare.stdout


def test_export_gives_valid_rows(harness: Harness, tiny_run: tuple[Path, str]) -> None:
    """``harness export`` gives one row per case with the documented columns; a one-process
    case has empty interval columns and says it is not judged."""
    run, _ = tiny_run
    result = harness("export", str(run))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 4
    for row in rows:
        assert row["valid"] == "True" and float(row["throughput"]) > 0
        assert row["arch"] and row["llvm_cpu"] and row["unit"]
        assert float(row["median_s"]) > 0 and row["ci_low_s"] == row["ci_high_s"] == ""
        assert row["processes"] == "1" and row["ci_method"].startswith("not judged")


def test_summary_and_report_are_printed(tiny_run: tuple[Path, str]) -> None:
    """The run prints a summary table and the paths of its results and report."""
    run, stdout = tiny_run
    assert "triad" in stdout and "logprob_eval" in stdout
    assert f"results: {run}" in stdout
    assert (run / "report.html").stat().st_size > 1_000_000  # plotly.js is inlined


def test_faults_stay_inside_their_case(harness: Harness, tmp_path: Path) -> None:
    """A wrong output, a segfault and a hang each fail one case; every other case still runs."""
    out = tmp_path / "out"
    result = harness("run", "--size", "tiny", "--timeout", "5", "--threads", "2",
                     "--out", str(out), "--workload-path", str(FIXTURE_WORKLOADS),
                     "--workloads", "faulty_wrong,faulty_crash,faulty_hang,triad")  # fmt: skip
    assert result.returncode == 1, result.stderr
    cases = _cases(_only_run(out))
    failed = {k: c["error"] for k, c in cases.items() if c["status"] != "ok"}
    assert set(failed) == {
        "faulty_wrong/tiny/rate/t2/native",
        "faulty_crash/tiny/rate/t2/native",
        "faulty_hang/tiny/speed/t1/native",
    }
    assert "does not match the reference" in failed["faulty_wrong/tiny/rate/t2/native"]
    assert "worker killed by SIGSEGV" in failed["faulty_crash/tiny/rate/t2/native"]
    assert "timed out after 5 s" in failed["faulty_hang/tiny/speed/t1/native"]
    for key in failed:
        assert "stats" not in cases[key] and "throughput" not in cases[key]
    export = harness("export", str(out), "--format", "json")
    rows = {f"{r['workload']}/{r['size']}/{r['mode']}/t{r['threads']}/{r['profile']}": r
            for r in json.loads(export.stdout)}  # fmt: skip
    assert all(rows[k]["throughput"] is None and not rows[k]["valid"] for k in failed)


def test_a_second_run_leaves_the_first_untouched(harness: Harness, tmp_path: Path) -> None:
    """Runs go to new directories; an earlier run's files are byte-for-byte unchanged."""
    out = tmp_path / "out"
    args = ("run", "--size", "tiny", "--workloads", "triad", "--mode", "speed", "--out", str(out))
    assert harness(*args).returncode == 0
    first = _only_run(out)
    before = {p.name: p.read_bytes() for p in first.iterdir() if p.is_file()}
    assert harness(*args).returncode == 0
    assert len([p for p in out.iterdir() if p.is_dir()]) == 2
    assert {p.name: p.read_bytes() for p in first.iterdir() if p.is_file()} == before


def test_profiles_change_the_vector_isa(harness: Harness, tmp_path: Path) -> None:
    """native, x86-64-v3 and portable compile triad to wide, ymm and xmm code on an AVX-512 host.

    native is zmm on AMD Zen 4/5; LLVM's tuning for Intel cores since Skylake-X prefers 256-bit
    vectors (``prefer-256-bit``), so there native may be ymm.
    """
    from harness.host.environment import capture

    env = capture(probe_threading=False)
    if env["arch"] != "x86_64" or "+avx512f" not in env["llvm"]["host_features"]:
        pytest.skip("needs an x86-64 host with AVX-512")
    out = tmp_path / "out"
    result = harness("run", "--size", "tiny", "--workloads", "triad", "--mode", "speed",
                     "--profile", "native,x86-64-v3,portable", "--out", str(out),
                     "--no-roofline")  # fmt: skip
    assert result.returncode == 0, result.stderr
    cases = _cases(_only_run(out)).values()
    isa = {c["profile"]: c["vector_isa"] for c in cases}
    wide = {"zmm"} if env["llvm"]["host_cpu"].startswith("znver") else {"zmm", "ymm"}
    assert isa["native"] in wide, isa
    assert (isa["x86-64-v3"], isa["portable"]) == ("ymm", "xmm")
    assert {c["profile"]: c["compiled_for"]["cpu_name"] for c in cases} == {
        "native": env["llvm"]["host_cpu"], "x86-64-v3": "x86-64-v3", "portable": "generic"
    }  # fmt: skip


def _wait_for_finished_case(out: Path, proc: subprocess.Popen[str], limit_s: float) -> Path:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and proc.poll() is None:
        manifests = list(out.glob("*/manifest.json"))
        if manifests and any(c["status"] == "ok" for c in _cases(manifests[0].parent).values()):
            return manifests[0].parent
        time.sleep(0.2)
    raise AssertionError("no case finished in time")


@pytest.mark.parametrize(("stop", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_keeps_finished_cases_and_resume_finishes(
    harness: Harness, tmp_path: Path, stop: signal.Signals, status: int
) -> None:
    """SIGINT (or SIGTERM) mid-run exits 130 (143) keeping finished cases; --resume finishes."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--size", "tiny,small", "--no-roofline",
         "--workload-path", str(FIXTURE_WORKLOADS), "--workloads", "triad,fixture_slow",
         "--min-rounds", "20", "--out", str(out), "--cache-dir", str(tmp_path / "cache")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell's background job starts with SIGINT ignored, and Python then never installs
        # its handler: give the harness the default, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    run = _wait_for_finished_case(out, proc, 240)
    proc.send_signal(stop)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr and f"--resume {run.name}" in stderr
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    kept = {k: c for k, c in _cases(run).items() if c["status"] == "ok"}
    assert 0 < len(kept) < len(manifest["cases"])
    result = harness("run", "--resume", run.name, "--out", str(out))
    assert result.returncode == 0, result.stderr
    final = _cases(run)
    assert all(c["status"] == "ok" for c in final.values())
    assert all(final[k]["stats"] == kept[k]["stats"] for k in kept)
    bench = json.loads((run / "benchmarks.json").read_text())["benchmarks"]
    assert sorted(b["extra_info"]["case"] for b in bench) == sorted(final)


def _wait_for_second_process(out: Path, proc: subprocess.Popen[str], limit_s: float) -> Path:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and proc.poll() is None:
        for manifest in out.glob("*/manifest.json"):
            cases = _cases(manifest.parent).values()
            if any(len(c.get("process_medians", ())) >= 2 for c in cases):
                return manifest.parent
        time.sleep(0.1)
    raise AssertionError("no case reached its second process in time")


@pytest.mark.slow
def test_a_killed_run_resumes_its_missing_processes(harness: Harness, tmp_path: Path) -> None:
    """SIGKILL in pass 2 of 3, then --resume: every case ends with three processes, the kept
    ones unchanged, each timing as many rounds as the first, and the run complete."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--size", "tiny", "--mode", "speed",
         "--workloads", "triad,logprob_eval", "--processes", "3", "--no-roofline",
         "--out", str(out), "--cache-dir", str(tmp_path / "cache")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    run = _wait_for_second_process(out, proc, 240)
    proc.kill()
    proc.wait()
    kept = {k: c.get("process_medians", [c["stats"]["median_s"]]) for k, c in _cases(run).items()
            if c["status"] == "ok"}  # fmt: skip
    assert json.loads((run / "manifest.json").read_text())["status"] == "running"
    result = harness("run", "--resume", run.name, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "processes to run" in result.stderr
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    final = _cases(run)
    assert all(len(c["process_medians"]) == 3 for c in final.values()), final
    assert all(final[k]["process_medians"][: len(v)] == v for k, v in kept.items())
    bench = json.loads((run / "benchmarks.json").read_text())["benchmarks"]
    assert all(len(set(b["extra_info"]["process_rounds"])) == 1 for b in bench)


def _wait_for_processes(out: Path, proc: subprocess.Popen[str], count: int, limit_s: float) -> Path:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and proc.poll() is None:
        for manifest in out.glob("*/manifest.json"):
            cases = _cases(manifest.parent).values()
            if any(len(c.get("process_medians", ())) >= count for c in cases):
                return manifest.parent
        time.sleep(0.05)
    raise AssertionError(f"no case reached process {count} in time")


@pytest.mark.slow
def test_a_run_interrupted_in_an_added_pass_resumes_the_added_passes(
    harness: Harness, tmp_path: Path
) -> None:
    """Ctrl-C after the first --ci-target pass, then --resume: the cases go on to
    --max-processes, the run ends complete, and the stop reason is recorded."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--size", "tiny", "--mode", "speed",
         "--workloads", "triad,logprob_eval", "--processes", "3", "--no-roofline",
         "--ci-target", "0.000001", "--max-processes", "9", "--ci-budget", "600",
         "--out", str(out),
         "--cache-dir", str(tmp_path / "cache")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    run = _wait_for_processes(out, proc, 4, 240)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and "stopped" not in manifest["adaptive"]
    result = harness("run", "--resume", run.name, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "added processes for" in result.stderr, result.stderr
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["adaptive"]["stopped"] == "2 case(s) reached --max-processes 9"
    assert all(len(c["process_medians"]) == 9 for c in manifest["cases"]), manifest["cases"]
    again = harness("run", "--resume", run.name, "--out", str(out))
    assert again.returncode == 2 and "no missing or failed case" in again.stderr


def test_off_a_terminal_progress_prints_lines_with_time_left(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a terminal the run prints a progress line on a timer, with processes done."""
    monkeypatch.setenv("HARNESS_PROGRESS_EVERY", "0.2")
    out = tmp_path / "out"
    result = harness("run", "--size", "tiny", "--workloads", "triad", "--no-roofline",
                     "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert re.search(r"progress: \d+/2 processes, \d+m\d\ds spent", result.stderr), result.stderr


def test_resume_of_a_complete_run_is_refused(harness: Harness, tmp_path: Path) -> None:
    """Nothing to resume is said plainly, as a user error."""
    out = tmp_path / "out"
    args = ("run", "--size", "tiny", "--workloads", "triad", "--mode", "speed", "--no-roofline")
    assert harness(*args, "--out", str(out)).returncode == 0
    result = harness("run", "--resume", _only_run(out).name, "--out", str(out))
    assert result.returncode == 2 and "no missing or failed case" in result.stderr


# A 2-vCPU type of this host's own architecture: a type of the other one is refused.
NAMED_TYPE, NAMED_PRICE = (
    ("c8a.large", 0.10778) if platform.machine() == "x86_64" else ("c8g.large", 0.07976)
)


def test_named_instance_type_prices_the_run(harness: Harness, tmp_path: Path) -> None:
    """``--instance-type c8a.large`` (c8g.large on arm64) prices the rate rows from the catalog."""
    out = tmp_path / "out"
    result = harness("run", "--size", "tiny", "--workloads", "triad", "--threads", "1,all",
                     "--instance-type", NAMED_TYPE, "--no-roofline",
                     "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"priced as {NAMED_TYPE}" in result.stderr
    export = harness("export", str(out), "--format", "json", "--baseline", NAMED_TYPE)
    rows = json.loads(export.stdout)
    usable = len(os.sched_getaffinity(0))
    assert sorted((r["mode"], r["threads"]) for r in rows) == sorted(
        {("speed", 1), ("rate", 1), ("rate", usable)}
    )
    for row in rows:
        assert row["price_per_hour"] == pytest.approx(NAMED_PRICE)
        assert "steal" in row and "other_load" in row and row["noisy"] in (True, False)
    full = [r for r in rows if r["mode"] == "rate" and r["threads"] == 2]
    for row in full:  # c8a.large has 2 vCPUs: only an all-vCPU rate row is a whole-instance cost
        expected = 0.10778 / 3600 * row["median_s"] / row["work"] * 1e6
        assert row["usd_per_million"] == pytest.approx(expected)
        assert row["rel_perf_per_dollar"] == pytest.approx(1.0)
