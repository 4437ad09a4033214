"""How cells are read and numbers written for people, in the terminal and the report alike.

One set of formatters so that a duration reads the same everywhere ("833.3 µs", not "833 us"
in one place and "833.3 µs" in another), and a value that is not a finite number reads as a
dash rather than "nan".
"""

from __future__ import annotations

import math
import numbers
from typing import Any

MISSING = "—"
_SI_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"))


def missing(value: Any) -> bool:
    """True for None, NaN and pandas' NA (recognised by type, so this module needs no pandas)."""
    if value is None:
        return True
    if isinstance(value, numbers.Real):
        return math.isnan(value)
    return type(value).__name__ == "NAType"


def flag(value: Any) -> bool:
    """A truthy cell; None and NaN (a column some rows lack) read as False."""
    return not missing(value) and bool(value)


def finite(value: Any) -> bool:
    """True when value is a finite real number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _scaled(value: float, scales: tuple[tuple[float, str], ...], below: str) -> str:
    """Four significant digits in the largest unit ``value`` reaches, else as ``below`` says."""
    for scale, unit in scales:
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return below


def si(value: Any) -> str:
    """Four significant digits with an SI prefix and a space: ``12.35 M``, ``4.5 k``, ``7``."""
    return _scaled(value, _SI_PREFIXES, f"{value:.4g}") if finite(value) else MISSING


def with_unit(value: Any, unit: str) -> str:
    """A throughput with its unit: ``12.35 M tokens/s``."""
    if not finite(value):
        return MISSING
    return f"{si(value)} {unit}"


def seconds(value: Any) -> str:
    """A duration in s, ms, µs or ns; a dash when not a finite number."""
    return _scaled(value, _TIME_UNITS, f"{value / 1e-9:.4g} ns") if finite(value) else MISSING
