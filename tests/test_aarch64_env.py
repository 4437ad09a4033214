"""The emulated aarch64 environment (``make aarch64-env``): arm64 Python under QEMU user mode.

Skipped when the environment has not been built (``scripts/aarch64-env.sh`` builds it into
``.cache/aarch64``, or ``$AARCH64_ENV_DIR``). Each test starts emulated interpreters: seconds to
tens of seconds on a loaded machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT

ENV_DIR = ROOT / os.environ.get("AARCH64_ENV_DIR", ".cache/aarch64")
LAUNCHER = ENV_DIR / "bin" / "python3"
EVENT_PREFIX = "@@harness "
TIMEOUT_S = 240
Completed = subprocess.CompletedProcess[str]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access(LAUNCHER, os.X_OK),
        reason=f"no emulated aarch64 Python at {LAUNCHER}: run `make aarch64-env` first",
    ),
]

CHILD_CHECK = """
import platform, subprocess, sys
import numba, numpy
print(platform.machine(), numba.__version__, numpy.__version__)
print(sys.executable)
child = [sys.executable, "-c", "import platform; print(platform.machine())"]
print(subprocess.run(child, capture_output=True, text=True, check=True).stdout.strip())
"""


def _emulated(args: list[str], env: dict[str, str] | None = None) -> Completed:
    return subprocess.run(
        [str(LAUNCHER), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=TIMEOUT_S,
        env=dict(os.environ, **(env or {})),
    )  # fmt: skip


def test_emulated_python_is_aarch64_and_its_children_too() -> None:
    proc = _emulated(["-c", CHILD_CHECK])
    assert proc.returncode == 0, proc.stderr
    machine_line, executable, child_machine = proc.stdout.strip().splitlines()
    assert machine_line.split()[0] == "aarch64"
    # sys.executable is the launcher (a shell script this kernel can exec), not the arm64 binary,
    # so the harness may start workers and probes with sys.executable from inside the emulation.
    assert Path(executable) == LAUNCHER
    assert child_machine == "aarch64"


def _case(mode: str, threads: int) -> dict[str, Any]:
    case = {"workload": "triad", "size": "tiny", "n": 1 << 15, "mode": mode, "threads": threads,
            "profile": "neoverse-n1"}  # fmt: skip
    return {**case, "id": f"triad/tiny/{mode}/t{threads}/neoverse-n1"}


def test_worker_runs_under_emulation(tmp_path: Path) -> None:
    cases = [_case("speed", 1), _case("rate", 2)]
    job = {
        "ref": "workloads.triad",
        "seed": 0,
        "timing": {"max_time": 0.1, "min_rounds": 3, "warmup_rounds": 1},
        "cases": cases,
    }
    job_path = tmp_path / "job.json"
    job_path.write_text(json.dumps(job))
    env = {
        "NUMBA_CPU_NAME": "neoverse-n1",
        "NUMBA_CPU_FEATURES": "",
        "NUMBA_NUM_THREADS": "2",
        "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"),
        "PYTHONUNBUFFERED": "1",
    }
    proc = _emulated(["-m", "harness.measure.worker", str(job_path)], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [
        json.loads(line[len(EVENT_PREFIX) :])
        for line in proc.stdout.splitlines()
        if line.startswith(EVENT_PREFIX)
    ]
    done = {e["case"]: e["record"] for e in events if e["event"] == "done"}
    assert list(done) == [c["id"] for c in cases], proc.stderr[-3000:]
    for record in done.values():
        assert record["status"] == "ok", record.get("error")
        assert record["validation"]["ok"]
        assert record["vector_isa"] in ("neon", "sve")
        assert record["compiled_for"]["cpu_name"] == "neoverse-n1"
    # libgomp1 is in the sysroot, so Numba's parallel kernels get the OpenMP layer.
    assert done["triad/tiny/rate/t2/neoverse-n1"]["threading_layer"] == "omp"
