"""Median confidence intervals from raw timing samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.measure.sample_stats import median_ci, percentiles, process_estimate, with_interval
from harness.pricing.hierarchical import hierarchical_geomean

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


def _two_level(rng: np.random.Generator, k: int) -> list[float]:
    """K process medians: 8% lognormal between processes, 1 in 20 an outlier 1.3x slower,
    each the median of 20 rounds with 1% lognormal noise within the process."""
    effects = rng.normal(0.0, 0.08, k) + np.where(rng.random(k) < 0.05, np.log(1.3), 0.0)
    return [float(np.median(np.exp(e + rng.normal(0.0, 0.01, 20)))) for e in effects]


@pytest.mark.parametrize("k", [3, 5, 10])
def test_process_interval_covers_the_true_centre_at_least_93_percent(k: int) -> None:
    """Over 2,000 seeded two-level draws, the case interval covers the true centre >= 93%."""
    rng = np.random.default_rng(k)
    centre = 0.05 * np.log(1.3)  # the mean log process median of the mixture
    hits = 0
    for _ in range(2000):
        est = process_estimate(_two_level(rng, k))
        hits += est.low <= float(np.exp(centre)) <= est.high
    assert hits / 2000 >= 0.93


def test_pooled_rounds_claim_less_than_the_processes_show() -> None:
    """Tight rounds in processes that differ: the case interval is the processes', far wider."""
    medians = [9.59e-3, 9.71e-3, 10.39e-3, 11.11e-3, 11.25e-3]  # logprob_eval small, measured
    rounds = [m * (1 + e) for m in medians for e in np.linspace(-0.01, 0.01, 60)]
    stats = with_interval({}, rounds, medians)
    case = (stats["ci_high_s"] - stats["ci_low_s"]) / 2 / stats["median_s"]
    within = (stats["within_high_s"] - stats["within_low_s"]) / 2 / stats["within_median_s"]
    assert case > 0.08 and within < 0.01  # about +-9% against the pooled rounds' +-0.6%
    assert stats["ci_method"] == "t on log medians of 5 processes"


def test_one_process_has_no_case_interval_and_says_why() -> None:
    """With one process the case has no interval (ci_method says not judged); the rounds' own
    interval stays as within_*."""
    stats = with_interval({}, list(np.linspace(1.0, 1.1, 30)))
    assert stats["ci_method"].startswith("not judged: one process")
    assert stats["ci_low_s"] is None and stats["ci_high_s"] is None
    assert stats["median_s"] == stats["within_median_s"]
    assert stats["within_low_s"] < stats["within_median_s"] < stats["within_high_s"]


def _side(rng: np.random.Generator, centre: float, k: int) -> tuple[float, float]:
    """One case side: K process log medians, 8% lognormal, 1 in 20 an outlier 1.3x slower."""
    logs = centre + rng.normal(0, 0.08, k) + np.where(rng.random(k) < 0.05, math.log(1.3), 0)
    return float(logs.mean()), float(logs.std(ddof=1))


@pytest.mark.parametrize(("cases", "k", "case_sd"), [(1, 3, 0.0), (1, 5, 0.0), (6, 5, 0.0),
                                                     (4, 3, 0.15), (8, 10, 0.15)])  # fmt: skip
def test_hierarchical_suite_interval_covers_the_true_ratio(
    cases: int, k: int, case_sd: float
) -> None:
    """Seeded two-level data: per-case true ratios (all 1 when case_sd is 0: an A/A) and K
    noisy processes a side; the suite interval covers the true geomean ratio >= 93% of 600."""
    rng = np.random.default_rng(11)
    truth = rng.normal(0, case_sd, cases)
    hits = 0
    for draw in range(600):
        sides = [(_side(rng, t, k), _side(rng, 0.0, k)) for t in truth]
        logs = [a[0] - b[0] for a, b in sides]
        target = ([a[1] for a, _ in sides], [k] * cases)
        base = ([b[1] for _, b in sides], [k] * cases)
        got = hierarchical_geomean(logs, target, base, n_resamples=1000, seed=draw)
        hits += got.low <= math.exp(float(truth.mean())) <= got.high
    assert hits / 600 >= 0.93


def test_hierarchical_interval_of_one_process_cases_says_so() -> None:
    """Cases measured in one process are not redrawn, and the method says how many; when every
    case is, the ratio has no interval and is not judged."""
    some = hierarchical_geomean([0.1, 0.2, 0.0], ([math.nan, 0.1, 0.1], [1, 5, 5]),
                                ([0.05] * 3, [5] * 3))  # fmt: skip
    assert "1 of 3 cases in one process" in some.method and some.low < some.value < some.high
    alone = ([math.nan] * 3, [1, 1, 1])
    every = hierarchical_geomean([0.1, 0.2, 0.0], alone, ([0.05] * 3, [5] * 3))
    assert every.method == "not judged: all 3 cases were measured in one process on a side"
    assert not every.has_interval and every.value == pytest.approx(math.exp(0.1))
