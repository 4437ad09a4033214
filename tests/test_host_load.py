"""Quietness sampling: competing load from other processes is seen and flagged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import Harness
from harness.measure import host_load


def test_a_busy_neighbour_is_counted_as_other_load() -> None:
    """A process spinning beside the measured one shows up as other load and flags noise."""
    measured = subprocess.Popen(["sleep", "30"])  # the "worker": idle, and not the spinner's parent
    try:
        start = host_load.snapshot(measured.pid)
        spinner = subprocess.Popen(
            [sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<1.0: pass"]
        )
        spinner.wait()
        time.sleep(0.05)
        result = host_load.measure(start)
    finally:
        measured.kill()
        measured.wait()
    assert result["other_load"] > 0.2
    assert result["noisy"] is True
    assert 0.0 <= result["steal"] <= 1.0


def test_a_reaped_child_counts_as_the_workers_own_cpu() -> None:
    """CPU of a child the worker forked and has already reaped (a forked replicate) is the
    worker's own, not other load."""
    before = host_load.snapshot(os.getpid())
    pid = os.fork()
    if pid == 0:  # burn half a second of CPU time, then end
        while time.process_time() < 0.5:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    after = host_load.snapshot(os.getpid())
    assert after.own - before.own >= 0.45


def test_wait_quiet_gives_up_on_a_busy_host_after_its_limit() -> None:
    """With every CPU spinning, the wait ends at its limit and reports the host busy."""
    code = "import time\nt=time.time()\nwhile time.time()-t<8.0: pass"
    spinners = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(os.cpu_count() or 1)]
    try:
        reading, waited = host_load.wait_quiet(1.5, window_s=0.5)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert reading["noisy"] is True and reading["other_load"] > 0.2
    assert waited >= 1.5  # and it gave up: the spinners stop at 8 s, after which it is quiet


def test_run_refuses_a_wait_quiet_that_is_not_positive(harness: Harness, tmp_path: Path) -> None:
    """``--wait-quiet 0`` is one line naming the value, exit 2."""
    result = harness("run", "--wait-quiet", "0", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "'0' is not a positive number of seconds" in result.stderr


def test_each_case_is_timed_over_its_own_rounds(harness: Harness, tmp_path: Path) -> None:
    """A case's elapsed time, read by the process that ran it, covers at least its timed rounds,
    even for a short rate case straight after a speed case in the same worker."""
    out = tmp_path / "o"
    result = harness("run", "--workloads", "triad", "--size", "tiny", "--mode", "both",
                     "--threads", "2", "--processes", "2", "--no-roofline", "--ci-target", "0",
                     "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_dir = next(out.iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    benches = json.loads((run_dir / "benchmarks.json").read_text())["benchmarks"]
    rounds = {b["extra_info"]["case"]: b["stats"]["data"] for b in benches}
    for case in manifest["cases"]:
        assert case["elapsed_s"] >= sum(rounds[case["id"]]), case["id"]
        assert set(case["host_load"]) == {"steal", "other_load", "noisy"}


def test_a_speed_case_leaves_the_threading_layer_unstarted() -> None:
    """A speed case, pinned to one CPU, does not start Numba's threading layer, so the rate case
    after it starts GNU OpenMP with every CPU in view."""
    code = """
import os, numba, numpy as np
from harness.keys import CaseKey
from harness.measure.timing import Timing, measure
from harness.workload import import_ref
w = import_ref("workloads.triad")
inputs = w.make_inputs(4096, np.random.default_rng(0))
everything = os.sched_getaffinity(0)
os.sched_setaffinity(0, {min(everything)})
timing = Timing(max_time=0.01, min_rounds=3, warmup_rounds=1, cold_compile=False)
record, _ = measure(w, CaseKey("triad", "tiny", "speed", 1, "native"), 4096, inputs, timing)
assert record["status"] == "ok", record
try:
    numba.threading_layer()
    raise SystemExit("started by the speed case")
except ValueError:
    pass
"""
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr + result.stdout
