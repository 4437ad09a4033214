"""The emulated aarch64 host: workloads pass their references under QEMU and compute what x86
computes. Needs `make aarch64-env` (``make test`` builds it first).

Each workload costs 25-60 s of JIT compilation under QEMU, so by default three are run (a
streaming float kernel, a transcendental reduction, integer hashing);
``HARNESS_EMULATED_WORKLOADS=all`` runs the whole suite (about ten minutes on two cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from harness.host import emulation

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
WORKLOADS = os.environ.get("HARNESS_EMULATED_WORKLOADS", "triad,logprob_eval,minhash_dedup")


def _launcher() -> Path:
    try:
        return emulation.launcher()
    except Exception as exc:
        pytest.skip(str(exc))


def _run(out: Path, *extra: str) -> Path:
    chosen = [] if WORKLOADS == "all" else ["--workloads", WORKLOADS]
    result = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--size", "tiny", "--out", str(out),
         "--cache-dir", str(out / "cache"), "--no-roofline", *chosen, *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=1500,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    (run,) = [p for p in out.iterdir() if p.is_dir() and p.name != "cache"]
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The chosen workloads at tiny size, natively and under QEMU."""
    _launcher()
    native = _run(tmp_path_factory.mktemp("native"))
    emulated = _run(tmp_path_factory.mktemp("emulated"), "--host", "qemu-aarch64")
    return native, emulated


def test_emulated_suite_passes_its_references(runs: tuple[Path, Path]) -> None:
    """Every workload validates on aarch64 code, and the run says it was emulated."""
    manifest = json.loads((runs[1] / "manifest.json").read_text())
    assert manifest["environment"]["arch"] == "aarch64"
    assert manifest["environment"]["emulated"] is True
    assert all(c["status"] == "ok" for c in manifest["cases"]), [
        (c["id"], c.get("error")) for c in manifest["cases"] if c["status"] != "ok"
    ]
    assert {c["vector_isa"] for c in manifest["cases"]} <= {"neon", "sve", "scalar", None}


def test_crosscheck_finds_the_same_outputs(runs: tuple[Path, Path]) -> None:
    """`harness crosscheck` of x86 native against aarch64 emulated finds no difference."""
    result = subprocess.run(
        [sys.executable, "-m", "harness", "crosscheck", str(runs[0]), str(runs[1])],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "same outputs" in result.stdout


def test_emulated_rows_are_never_priced(runs: tuple[Path, Path]) -> None:
    """Export marks emulated rows and gives them no price even with a baseline named."""
    result = subprocess.run(
        [sys.executable, "-m", "harness", "export", str(runs[1]), "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    rows = json.loads(result.stdout)
    assert rows and all(r["emulated"] and r["usd_per_million"] is None for r in rows)
