"""Validation of kernel outputs against references, and output digests."""

from __future__ import annotations

import numpy as np

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
