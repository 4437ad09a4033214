"""The cross-architecture check: exact for integer outputs, within tolerance for floats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.analysis.crosscheck import crosscheck, render
from harness.errors import UserError
from harness.measure.timing import summarize
from harness.results import MANIFEST, SCHEMA, SCHEMA_VERSION, load_run
from harness.workload import discover

WORKLOADS = discover()


def _run(tmp_path: Path, name: str, arch: str, outputs: dict[str, Any]) -> Any:
    cases = [
        {"id": f"{w}/tiny/speed/t1/native", "workload": w, "size": "tiny", "mode": "speed",
         "status": "ok", "outputs": summarize(value)}
        for w, value in outputs.items()
    ]  # fmt: skip
    run_dir = tmp_path / name
    run_dir.mkdir()
    manifest = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "run_id": name,
                "environment": {"arch": arch}, "cases": cases}  # fmt: skip
    (run_dir / MANIFEST).write_text(json.dumps(manifest))
    return load_run(run_dir)


def test_identical_outputs_pass(tmp_path: Path) -> None:
    """The same integer and float outputs on both sides are reported the same."""
    out = (np.arange(10), np.linspace(0, 1, 100))
    a = _run(tmp_path, "a", "x86_64", {"logprob_eval": out})
    b = _run(tmp_path, "b", "aarch64", {"logprob_eval": out})
    result = crosscheck(a, b, WORKLOADS)
    assert result.ok and result.compared == 1
    assert "same outputs" in render(result, a, b, "text")


def test_one_changed_integer_is_a_difference(tmp_path: Path) -> None:
    """Integer outputs must be identical: one changed element is reported."""
    ints = np.arange(10)
    changed = ints.copy()
    changed[3] += 1
    a = _run(tmp_path, "a", "x86_64", {"triad": ints})
    b = _run(tmp_path, "b", "aarch64", {"triad": changed})
    result = crosscheck(a, b, WORKLOADS)
    assert not result.ok and "integer values differ" in result.differences[0].detail


def test_floats_within_tolerance_pass_and_beyond_fail(tmp_path: Path) -> None:
    """A float difference under the workload's tolerance passes; a larger one is named."""
    x = np.linspace(1, 2, 1000)
    rtol = WORKLOADS["logprob_eval"].rtol
    a = _run(tmp_path, "a", "x86_64", {"logprob_eval": x})
    near = _run(tmp_path, "b", "aarch64", {"logprob_eval": x * (1 + rtol / 10)})
    far = _run(tmp_path, "c", "aarch64", {"logprob_eval": x * (1 + 1e-3)})
    assert crosscheck(a, near, WORKLOADS).ok
    result = crosscheck(a, far, WORKLOADS)
    assert not result.ok and "logprob_eval" in render(result, a, far, "text")


def test_runs_with_nothing_in_common_are_refused(tmp_path: Path) -> None:
    """Two runs sharing no workload cannot be cross-checked, and the error says so."""
    a = _run(tmp_path, "a", "x86_64", {"triad": np.arange(3)})
    b = _run(tmp_path, "b", "aarch64", {"logprob_eval": np.arange(3)})
    with pytest.raises(UserError, match="share no successful case"):
        crosscheck(a, b, WORKLOADS)
