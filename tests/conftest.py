"""Shared test helpers: run the real CLI in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

# No deadline for any property test: this machine is shared and noisy, and a test that fails
# when an example happens to run slowly is a timing assertion (scipy's first import alone has
# taken 0.8 s here). Derandomized: each run draws the same examples, so a property that holds
# in one clean-clone check holds in CI (a random draw once failed a bound set too tight).
settings.register_profile("harness", deadline=None, derandomize=True)
settings.load_profile("harness")

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_WORKLOADS = Path(__file__).parent / "fixture_workloads"

Harness = Callable[..., subprocess.CompletedProcess[str]]

# One worker process per case unless a test asks for more: most tests check what a run records,
# not how processes pool, and each extra process costs a second or two of start-up.
os.environ.setdefault("HARNESS_PROCESSES", "1")
# No processes added for a precision target unless a test asks (--ci-target): a run's length
# would then depend on how noisy this machine is at the moment.
os.environ.setdefault("HARNESS_CI_TARGET", "0")


def make_harness(tmp_path: Path) -> Harness:
    """A runner of ``python -m harness ARGS`` with its Numba cache inside ``tmp_path``."""

    def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), COLUMNS="200")
        return subprocess.run(
            [sys.executable, "-m", "harness", *args],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout,
        )  # fmt: skip

    return run


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    """Run ``python -m harness ARGS`` with its Numba cache inside the test's tmp dir."""
    return make_harness(tmp_path)
