"""Test-only bad workload: its name climbs out of the run directory."""

from __future__ import annotations

import numpy as np

from harness.workload import Workload


def _inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray]:
    return (rng.integers(0, 100, size=n),)


def _double(x: np.ndarray) -> np.ndarray:
    return x * 2


WORKLOAD = Workload(
    name="../../escaped_by_name", category="probe", description="test-only: bad name",
    unit="items", bound="compute", sizes={"tiny": 8, "small": 8, "default": 8, "large": 8},
    work=float, bytes=float, flops=float, make_inputs=_inputs, speed=_double, rate=_double,
    reference=_double, rtol=0, atol=0,
)  # fmt: skip
