"""Test-only workload: its rate kernel disagrees with the reference."""

from __future__ import annotations

import numpy as np

from harness.workload import Workload

SIZES = {"tiny": 8, "small": 8, "default": 8, "large": 8}


def _inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray]:
    return (rng.integers(0, 100, size=n),)


def _double(x: np.ndarray) -> np.ndarray:
    return x * 2


def _off_by_one(x: np.ndarray) -> np.ndarray:
    return x * 2 + 1


def _declare(name: str, speed, rate) -> Workload:  # type: ignore[no-untyped-def]
    return Workload(
        name=name, category="probe", description=f"test-only: {name}", unit="items",
        bound="compute", sizes=SIZES, work=float, bytes=float, flops=float,
        make_inputs=_inputs, speed=speed, rate=rate, reference=_double, rtol=0, atol=0,
    )  # fmt: skip


WORKLOAD = _declare("faulty_wrong", speed=_double, rate=_off_by_one)
