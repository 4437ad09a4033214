"""Test-only workload: its speed kernel kills its process with SIGSEGV only in a forked child.

A process whose parent is a harness worker is a replicate forked for ``--ci-target``
(``--replicates fork``): the first, fresh processes of a case pass, the forked ones crash.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np

from harness.workload import Workload

SIZES = {"tiny": 8, "small": 8, "default": 8, "large": 8}


def _inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray]:
    return (rng.integers(0, 100, size=n),)


def _double(x: np.ndarray) -> np.ndarray:
    return x * 2


def _crash_when_forked(x: np.ndarray) -> np.ndarray:
    parent = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    if b"harness.measure.worker" in parent:
        os.kill(os.getpid(), signal.SIGSEGV)
    return x * 2


WORKLOAD = Workload(
    name="faulty_forked", category="probe", description="test-only: faulty_forked",
    unit="items", bound="compute", sizes=SIZES, work=float, bytes=float, flops=float,
    make_inputs=_inputs, speed=_crash_when_forked, rate=_double, reference=_double, rtol=0,
    atol=0,
)  # fmt: skip
