"""The emulated aarch64 host: workloads pass their references under QEMU and compute what x86
computes. Needs `make aarch64-env` (``make test`` builds it first).

Each workload costs 25-90 s of JIT compilation under QEMU, so by default three are run (a
streaming float kernel, a transcendental reduction, integer hashing);
``HARNESS_EMULATED_WORKLOADS=all`` runs the whole suite. The emulated workloads are split into
one shard per CPU, each its own ``harness run`` running beside the others: compilation under
QEMU is single-threaded, and emulated timings are never priced or judged, so sharing the CPUs
costs nothing the test checks (on this project's VM two QEMU processes got about half a vCPU
each, so the gain depends on the runner). Each shard's time limit grows with its workload
count; a case's own limit is the emulated default, 1200 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from harness.host import emulation
from harness.workload import discover

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]
WORKLOADS = os.environ.get("HARNESS_EMULATED_WORKLOADS", "triad,logprob_eval,minhash_dedup")
# Under QEMU on two shared vCPUs one workload's two compiles took 10-320 s (agent_decode the
# most); a slow CI runner needs room above that.
SECONDS_PER_WORKLOAD = 300
START_SECONDS = 300  # the emulated Python's start, environment capture and references


def _launcher() -> Path:
    try:
        return emulation.launcher()
    except Exception as exc:
        pytest.skip(str(exc))


def _names() -> list[str]:
    return sorted(discover()) if WORKLOADS == "all" else WORKLOADS.split(",")


def _shards(names: list[str]) -> list[list[str]]:
    count = max(1, min(len(names), os.cpu_count() or 1))
    return [names[i::count] for i in range(count)]


def _command(out: Path, names: list[str], *extra: str) -> list[str]:
    return [sys.executable, "-m", "harness", "run", "--size", "tiny", "--out", str(out),
            "--cache-dir", str(out / "cache"), "--no-roofline", "--workloads", ",".join(names),
            *extra]  # fmt: skip


def _run_dir(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir() and p.name != "cache"]
    return run


def _start(out: Path, names: list[str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command(out, names, *extra), cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def _finish(process: subprocess.Popen[str], names: list[str]) -> None:
    limit = START_SECONDS + SECONDS_PER_WORKLOAD * len(names)
    try:
        output, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"{','.join(names)} took over {limit} s:\n{output[-3000:]}")
    assert process.returncode == 0, output[-6000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """The chosen workloads at tiny size, natively (one process per case) and under QEMU."""
    _launcher()
    names = _names()
    native_out = tmp_path_factory.mktemp("native")
    native = _start(native_out, names, "--processes", "1")
    _finish(native, names)
    shards = _shards(names)
    outs = [tmp_path_factory.mktemp(f"emulated{i}") for i in range(len(shards))]
    started = [_start(o, s, "--host", "qemu-aarch64") for o, s in zip(outs, shards, strict=True)]
    for process, shard in zip(started, shards, strict=True):
        _finish(process, shard)
    return _run_dir(native_out), [_run_dir(o) for o in outs]


def test_emulated_suite_passes_its_references(runs: tuple[Path, list[Path]]) -> None:
    """Every workload validates on aarch64 code, and the run says it was emulated."""
    seen = set()
    for run in runs[1]:
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["environment"]["arch"] == "aarch64"
        assert manifest["environment"]["emulated"] is True
        assert all(c["status"] == "ok" for c in manifest["cases"]), [
            (c["id"], c.get("error")) for c in manifest["cases"] if c["status"] != "ok"
        ]
        assert {c["vector_isa"] for c in manifest["cases"]} <= {"neon", "sve", "scalar", None}
        seen |= {c["workload"] for c in manifest["cases"]}
    assert seen == set(_names())


def test_crosscheck_finds_the_same_outputs(runs: tuple[Path, list[Path]]) -> None:
    """`harness crosscheck` of x86 native against each emulated shard compares every case."""
    for run in runs[1]:
        result = subprocess.run(
            [sys.executable, "-m", "harness", "crosscheck", str(runs[0]), str(run),
             "--format", "json"],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        found = json.loads(result.stdout)
        cases = json.loads((run / "manifest.json").read_text())["cases"]
        assert found["ok"] and found["compared"] == len(cases), found


def test_emulated_rows_are_never_priced(runs: tuple[Path, list[Path]]) -> None:
    """Export marks emulated rows and gives them no price even with a baseline named."""
    for run in runs[1]:
        result = subprocess.run(
            [sys.executable, "-m", "harness", "export", str(run), "--format", "json"],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
        rows = json.loads(result.stdout)
        assert rows and all(r["emulated"] and r["usd_per_million"] is None for r in rows)
