"""Validation of kernel outputs against references, output digests, cold compile time and the
host facts the roofline records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numba
import numpy as np

from harness.measure.cold_compile import _fresh, cold_compile_time
from harness.measure.roofline import llc_bytes
from harness.measure.timing import compare, digest


def test_integer_outputs_must_match_exactly() -> None:
    """One differing integer fails the check, whatever the tolerance."""
    check = compare(np.array([1, 2, 4]), np.array([1, 2, 3]), rtol=1.0, atol=1.0)
    assert not check.ok and "1 of 3 differ" in check.message


def test_boolean_outputs_must_match_exactly() -> None:
    """Booleans are compared exactly, as integers are."""
    assert not compare(np.array([True]), np.array([False]), 1.0, 1.0).ok


def test_float_outputs_pass_within_tolerance_and_fail_beyond() -> None:
    """A relative error below rtol passes; above it fails, with the error measured."""
    ref = np.array([1.0, 2.0])
    assert compare(ref * (1 + 1e-8), ref, rtol=1e-6, atol=0).ok
    check = compare(ref * (1 + 1e-3), ref, rtol=1e-6, atol=0)
    assert not check.ok
    assert np.isclose(check.max_rel_err, 1e-3)


def test_shape_and_count_mismatches_fail() -> None:
    """A wrong shape or a missing output fails with a message that says which."""
    assert "shape" in compare(np.zeros(3), np.zeros(4), 0, 0).message
    assert "outputs" in compare((np.zeros(3),), (np.zeros(3), np.zeros(3)), 0, 0).message


def test_nan_in_float_output_fails() -> None:
    """A NaN never passes as close to anything."""
    assert not compare(np.array([np.nan]), np.array([1.0]), 1.0, 1.0).ok


def test_tuple_outputs_are_checked_one_by_one() -> None:
    """Each element of a tuple output is compared with its own rule."""
    got = (np.array([1.0, 2.0]), np.array([1, 2]))
    assert compare(got, (np.array([1.0, 2.0]), np.array([1, 2])), 0, 0).ok
    assert not compare(got, (np.array([1.0, 2.0]), np.array([1, 3])), 0, 0).ok


def test_digest_is_stable_and_sensitive() -> None:
    """Equal outputs hash alike; a changed value, dtype or shape changes the digest."""
    a = np.arange(6, dtype=np.int64)
    assert digest(a) == digest(a.copy())
    assert digest(a) != digest(a + (a == 5))
    assert digest(a) != digest(a.astype(np.int32))
    assert digest(a) != digest(a.reshape(2, 3))


@numba.njit
def _callee(x: float) -> float:
    return x + 1.0


@numba.njit
def _kernel(a: np.ndarray) -> float:
    total = 0.0
    for v in a:
        total += _callee(v)
    return total


def test_a_cold_compile_builds_fresh_copies_and_leaves_the_kernel_alone() -> None:
    """The timed copy compiles its own callee: the kernel and its callee gain no code from it."""
    a = np.ones(3)
    seconds = cold_compile_time(_kernel, (a,))
    assert seconds is not None and seconds > 0
    assert _kernel.signatures == [] and _callee.signatures == []
    assert cold_compile_time(_kernel, (a,)) == seconds  # once per process and argument types
    fresh = _fresh(_kernel, {})
    fresh.compile((numba.typeof(a),))
    copy = fresh.py_func.__globals__["_callee"]
    assert copy is not _callee and len(copy.signatures) == 1 and _callee.signatures == []
    assert _kernel(a) == 6.0


def test_a_callee_read_through_a_module_is_copied_too() -> None:
    """``cd.mask_step`` in agent_loop resolves to a fresh copy, not the cached original."""
    from workloads import agent_loop, constrained_decode

    fresh = _fresh(agent_loop.decode_call, {})
    copied = fresh.py_func.__globals__["cd"].mask_step
    assert copied is not constrained_decode.mask_step
    assert copied.py_func.__code__ is constrained_decode.mask_step.py_func.__code__


def test_a_python_kernel_has_no_cold_compile_of_its_own() -> None:
    """A plain function is not compiled: its first call stands for its compile time."""
    assert cold_compile_time(np.sum, (np.ones(2),)) is None


def _cache(root: Path, cpu: int, index: int, **files: Any) -> None:
    folder = root / f"cpu{cpu}" / "cache" / f"index{index}"
    folder.mkdir(parents=True)
    for name, value in files.items():
        (folder / name).write_text(f"{value}\n")


def test_llc_is_every_instance_of_the_last_level_summed(tmp_path: Path) -> None:
    """Two 16 MiB L3 slices, each seen by two CPUs, make a 32 MiB last-level cache."""
    for cpu in range(4):
        _cache(tmp_path, cpu, 0, level=1, type="Data", size="32K", shared_cpu_list=cpu)
        _cache(tmp_path, cpu, 1, level=1, type="Instruction", size="32K", shared_cpu_list=cpu)
        shared = "0-1" if cpu < 2 else "2-3"
        _cache(tmp_path, cpu, 3, level=3, type="Unified", size="16384K", shared_cpu_list=shared)
    assert llc_bytes(tmp_path) == 32 << 20
    assert llc_bytes(tmp_path / "absent") is None
