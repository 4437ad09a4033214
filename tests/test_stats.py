"""Median confidence intervals from raw timing samples."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from harness.measure.sample_stats import median_ci, percentiles

samples = st.lists(
    st.floats(min_value=1e-9, max_value=1e3, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=200,
)


@given(samples)
def test_interval_always_contains_the_median(data: list[float]) -> None:
    """Whatever the samples, low <= median <= high and the bounds are samples' range."""
    ci = median_ci(data)
    assert ci.low <= ci.value <= ci.high
    assert min(data) <= ci.low and ci.high <= max(data)


@given(samples, st.floats(min_value=0.01, max_value=100))
def test_interval_scales_with_the_samples(data: list[float], k: float) -> None:
    """Scaling every sample scales the median and both bounds alike."""
    a, b = median_ci(data), median_ci([x * k for x in data])
    for x, y in ((a.value, b.value), (a.low, b.low), (a.high, b.high)):
        assert math.isclose(x * k, y, rel_tol=1e-9)


@given(samples, st.randoms())
def test_order_of_samples_does_not_matter(data: list[float], rnd) -> None:  # type: ignore[no-untyped-def]
    """Shuffled samples give the same interval."""
    shuffled = list(data)
    rnd.shuffle(shuffled)
    assert median_ci(data) == median_ci(shuffled)


def test_few_samples_say_the_interval_is_the_range() -> None:
    """Below six samples no order-statistic interval reaches 95%, and the method says so."""
    assert median_ci([3.0, 1.0, 2.0]).method == "range"
    assert median_ci(list(np.linspace(1, 2, 30))).method == "order"


def test_interval_narrows_as_samples_grow() -> None:
    """More samples from one distribution give a narrower interval."""
    rng = np.random.default_rng(1)
    small = median_ci(rng.lognormal(size=20))
    large = median_ci(rng.lognormal(size=2000))
    assert large.high - large.low < small.high - small.low


def test_percentiles_are_named() -> None:
    """Latency percentiles come back as p50, p90 and p99."""
    assert percentiles(list(range(101))) == {"p50": 50.0, "p90": 90.0, "p99": 99.0}
