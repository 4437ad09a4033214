"""STREAM triad, ``a = b + s * c``: the memory-bandwidth probe other numbers are read against.

STREAM counts 24 bytes per float64 element (two reads, one write) and ignores the
write-allocate read; so does this probe, whose output array is an input written in place, so
its GB/s compare with published STREAM figures.
"""

from __future__ import annotations

import numba
import numpy as np

from harness.workload import Workload

SCALAR = 3.0


@numba.njit(cache=True)
def triad_speed(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    for i in range(b.size):
        a[i] = b[i] + SCALAR * c[i]
    return a


@numba.njit(cache=True, parallel=True)
def triad_rate(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    for i in numba.prange(b.size):
        a[i] = b[i] + SCALAR * c[i]
    return a


def triad_reference(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return b + SCALAR * c


def make_inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # The output array is allocated (and its pages touched) here, outside the timed region,
    # as STREAM does: a fresh allocation per call would time page faults, not bandwidth.
    return np.zeros(n), rng.standard_normal(n), rng.standard_normal(n)


WORKLOAD = Workload(
    name="triad",
    category="probe",
    description="STREAM triad a = b + s*c over float64 arrays (memory bandwidth)",
    unit="elements",
    bound="memory",
    # tiny fits in L2; small, default and large are far past any last-level cache.
    sizes={"tiny": 1 << 15, "small": 1 << 23, "default": 1 << 25, "large": 1 << 27},
    work=lambda n: float(n),
    bytes=lambda n: 24.0 * n,
    flops=lambda n: 2.0 * n,
    make_inputs=make_inputs,
    speed=triad_speed,
    rate=triad_rate,
    reference=triad_reference,
    rtol=0.0,
    atol=0.0,
)
