"""Test-only workload: correct but slow (50 ms a call), so a run can be interrupted mid-way."""

from __future__ import annotations

import time

import numpy as np

from harness.workload import Workload


def _inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray]:
    return (rng.integers(0, 100, size=n),)


def _double(x: np.ndarray) -> np.ndarray:
    return x * 2


def _slow_double(x: np.ndarray) -> np.ndarray:
    time.sleep(0.05)
    return x * 2


WORKLOAD = Workload(
    name="fixture_slow", category="probe", description="test-only: slow", unit="items",
    bound="latency", sizes={"tiny": 8, "small": 16, "default": 32, "large": 64},
    work=float, bytes=float, flops=float, make_inputs=_inputs,
    speed=_slow_double, rate=_slow_double, reference=_double, rtol=0, atol=0,
)  # fmt: skip
