"""Every built-in workload keeps its contract at tiny size: correct, deterministic, declared."""

from __future__ import annotations

import numpy as np
import pytest

from harness.measure.timing import compare, digest
from harness.workload import SIZES, Workload, discover

WORKLOADS = discover()


def test_discovery_finds_the_builtin_workloads() -> None:
    """The workloads package declares at least the bandwidth probe and one AI workload."""
    assert {"triad", "logprob_eval"} <= set(WORKLOADS)


@pytest.mark.parametrize("workload", WORKLOADS.values(), ids=list(WORKLOADS))
@pytest.mark.parametrize("mode", ["speed", "rate"])
def test_kernel_matches_its_reference_at_tiny(workload: Workload, mode: str) -> None:
    """The Numba kernel's output agrees with the plain NumPy reference."""
    inputs = workload.make_inputs(workload.sizes["tiny"], np.random.default_rng(0))
    check = compare(workload.kernel(mode)(*inputs), workload.reference(*inputs),
                    workload.rtol, workload.atol)  # fmt: skip
    assert check.ok, check.message


@pytest.mark.parametrize("workload", WORKLOADS.values(), ids=list(WORKLOADS))
def test_same_seed_gives_bitwise_same_output(workload: Workload) -> None:
    """Two runs from one seed produce identical bytes; another seed differs."""
    n = workload.sizes["tiny"]
    runs = [workload.rate(*workload.make_inputs(n, np.random.default_rng(s))) for s in (7, 7, 8)]
    assert digest(runs[0]) == digest(runs[1]) != digest(runs[2])


@pytest.mark.parametrize("workload", WORKLOADS.values(), ids=list(WORKLOADS))
def test_declares_sizes_work_and_roofline_inputs(workload: Workload) -> None:
    """Sizes grow from tiny to large, and work, bytes and flops are positive."""
    ns = [workload.sizes[s] for s in SIZES]
    assert ns == sorted(ns)
    for n in ns:
        assert workload.work(n) > 0 and workload.bytes(n) > 0 and workload.flops(n) > 0
