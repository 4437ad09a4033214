"""Change points in nightly series, found in runs written on disk in the real result format."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_compare import ARM, Case, noisy, write_run

from harness.analysis.history import Detector, History, history, render, sparkline
from harness.errors import UserError
from harness.results import Run, find_runs

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_NOISE = [-0.004, 0.0, 0.004, -0.002, 0.002, 0.001, -0.001, 0.003]


def nights(
    root: Path, levels: Sequence[float], env: dict[str, Any] | None = None, tag: str = "n"
) -> list[Path]:
    """One run per night (created a day apart), each with case ``w`` at the given level."""
    made = []
    for i, level in enumerate(levels):
        created = f"2025-03-{i + 1:02d}T03:00:00+00:00"
        case = Case("w", noisy(level, ROUND_NOISE))
        made.append(write_run(root, f"{tag}{i + 1:02d}", [case], env=env, created=created))
    return made


def read(paths: Sequence[Path]) -> list[Run]:
    return find_runs(paths)


def step_levels(jitter: Sequence[float], at: int, ratio: float) -> list[float]:
    """Nightly levels around 10 ms, multiplied by ``ratio`` from night ``at`` (1-based) on."""
    return [0.01 * (1 + j) * (ratio if i + 1 >= at else 1.0) for i, j in enumerate(jitter)]


JITTER = st.lists(st.floats(-0.015, 0.015), min_size=12, max_size=12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jitter=JITTER, ratio=st.sampled_from([1.3, 1.15, 0.75]))
def test_step_at_night_6_of_12_is_found_there_with_its_ratio(
    tmp_path_factory: pytest.TempPathFactory, jitter: list[float], ratio: float
) -> None:
    """A level change from night 6 of 12 is one step, named at night 6, of the right size."""
    tmp = tmp_path_factory.mktemp("step")
    result = history(read(nights(tmp, step_levels(jitter, 6, ratio))))
    [(series, step)] = result.steps
    assert (step.night, step.run_id, step.previous_run_id) == (5, "n06", "n05")
    assert step.created.startswith("2025-03-06")
    assert step.ratio == pytest.approx(ratio, rel=0.035)
    assert len(series.nights) == 12


@SETTINGS
@given(jitter=JITTER)
def test_flat_noisy_series_has_no_step(
    tmp_path_factory: pytest.TempPathFactory, jitter: list[float]
) -> None:
    """Nights that wander by up to 1.5% either way never make a step."""
    tmp = tmp_path_factory.mktemp("flat")
    result = history(read(nights(tmp, [0.01 * (1 + j) for j in jitter])))
    assert result.steps == []
    assert render(result, "text").startswith("NO STEP")


def test_realistic_noise_with_bad_nights_rarely_makes_a_step() -> None:
    """On 200 flat series (3% lognormal night noise, one 2x night each) under 2% show a step."""
    rng = np.random.default_rng(1)
    det = Detector()
    found = 0
    for _ in range(200):
        medians = 0.01 * np.exp(rng.normal(0, 0.03, size=14))
        medians[rng.integers(0, 14)] *= 2.0
        found += len(det.change_points(list(medians)))
    assert found <= 4


def test_a_single_bad_night_is_not_a_step(tmp_path: Path) -> None:
    """One night twice as slow in an otherwise steady series is noise, not a step."""
    levels = [0.01 * (1 + 0.003 * ((i * 5) % 7 - 3)) for i in range(12)]
    levels[6] *= 2
    assert history(read(nights(tmp_path, levels))).steps == []


def test_step_up_then_back_down_gives_two_steps(tmp_path: Path) -> None:
    """A slowdown at night 5 undone at night 11 of 16 is found as two steps, slower then faster."""
    jitter = [0.004 * ((i * 7) % 5 - 2) for i in range(16)]
    levels = [0.01 * (1 + j) * (1.25 if 5 <= i + 1 < 11 else 1) for i, j in enumerate(jitter)]
    result = history(read(nights(tmp_path, levels)))
    assert [s.night + 1 for _, s in result.steps] == [5, 11]
    assert [s.ratio for _, s in result.steps] == pytest.approx([1.25, 0.8], rel=0.02)


def test_runs_are_ordered_by_created_time_not_by_argument_order(tmp_path: Path) -> None:
    """Shuffled runs give the same series and the same step, in night order."""
    jitter = [0.003 * ((i * 5) % 7 - 3) for i in range(12)]
    runs = read(nights(tmp_path, step_levels(jitter, 6, 1.3)))
    shuffled = runs[:]
    random.Random(3).shuffle(shuffled)
    result = history(shuffled)
    assert [n.run_id for n in result.series[0].nights] == [f"n{i:02d}" for i in range(1, 13)]
    assert [s.run_id for _, s in result.steps] == ["n06"]


def test_machines_form_separate_series(tmp_path: Path) -> None:
    """x86 and aarch64 nights interleaved make two flat series, not a step between machines."""
    x86 = nights(tmp_path, [0.01] * 8, tag="x")
    arm = nights(tmp_path, [0.005] * 8, env=ARM, tag="a")
    result = history(read(x86 + arm))
    assert len(result.series) == 2
    assert result.steps == []


def test_failed_nights_are_reported_and_left_out_of_the_series(tmp_path: Path) -> None:
    """A night whose case failed is listed, and the series holds the other nights."""
    paths = nights(tmp_path, [0.01] * 5)
    paths.append(write_run(tmp_path, "n06", [Case("w", status="failed", error="timeout")],
                           created="2025-03-06T03:00:00+00:00"))  # fmt: skip
    result = history(read(paths))
    assert len(result.series[0].nights) == 5
    assert [(f.run_id, f.error) for f in result.failures] == [("n06", "timeout")]


def test_nights_on_a_noisy_host_are_left_out(tmp_path: Path) -> None:
    """Nights flagged noisy are listed and do not enter the series, so they make no step."""
    paths = nights(tmp_path, [0.01] * 6)
    flag = {"host_load": {"steal": 0.1, "other_load": 0.0, "noisy": True}}
    for i in range(7, 13):
        case = Case("w", noisy(0.02, ROUND_NOISE), extra=flag)
        paths.append(write_run(tmp_path, f"n{i:02d}", [case], created=f"2025-03-{i:02d}T03:00Z"))
    result = history(read(paths))
    assert len(result.series[0].nights) == 6 and result.steps == []
    assert {f.status for f in result.failures} == {"noisy host"}


def _tables(text: str) -> list[list[list[str]]]:
    blocks = re.split(r"\n(?!\|)", text)
    found = []
    for block in blocks:
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if lines:
            found.append([[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in lines])
    return found


def test_markdown_has_valid_tables_naming_the_night(tmp_path: Path) -> None:
    """Markdown output is a verdict line, a steps table and a series table, each well formed."""
    jitter = [0.003 * ((i * 5) % 7 - 3) for i in range(12)]
    text = render(history(read(nights(tmp_path, step_levels(jitter, 6, 1.3)))), "markdown")
    assert text.startswith("**1 STEP(S) (1 slower)")
    steps, series = _tables(text)
    for table in (steps, series):
        assert all(len(r) == len(table[0]) for r in table)
        assert all(re.fullmatch(r"-+", c) for c in table[1])
    assert steps[2][2:5] == ["6", "n06", "n05"] and steps[2][5].startswith("1.3")
    assert series[2][2] == "12"


def test_json_is_strict_and_holds_every_night(tmp_path: Path) -> None:
    """JSON output parses without NaN and carries each night's median and raw rounds."""
    result: History = history(read(nights(tmp_path, [0.01] * 4)))
    data = json.loads(render(result, "json"), parse_constant=lambda c: pytest.fail(c))
    night = data["series"][0]["nights"][0]
    assert night["run_id"] == "n01" and len(night["samples"]) == len(ROUND_NOISE)


def test_sparkline_shows_the_shape() -> None:
    """A rising series rises in the sparkline, and a flat one stays level."""
    assert sparkline([1, 2, 3, 4]) == "▁▃▆█"
    assert sparkline([1.0, 1.0, 1.0]) == "▄▄▄"


def test_bad_input_names_the_bad_value(tmp_path: Path) -> None:
    """Unknown formats and empty run lists raise UserError naming the value."""
    runs = read(nights(tmp_path, [0.01]))
    with pytest.raises(UserError, match="'csv'"):
        render(history(runs), "csv")
    with pytest.raises(UserError, match="empty"):
        history([])
