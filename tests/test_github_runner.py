"""GitHub-hosted Actions runners: told by GitHub's own variables, priced as GitHub's SKUs."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Any

import pytest

from conftest import Harness
from harness.host.cloud import github_runner
from harness.host.recorded import identify_folder
from harness.pricing.catalog import load_catalog
from harness.pricing.matching import match_host
from hostdata import HOSTS

HOSTED = {"GITHUB_ACTIONS": "true", "RUNNER_ENVIRONMENT": "github-hosted"}


def _runner_env(sample: str) -> dict[str, Any]:
    """A capture of a recorded runner (its lscpu) as the runner itself would make it."""
    machine = identify_folder(HOSTS / sample)
    cloud = github_runner(HOSTED, machine["arch"], machine["topology"]["vcpus"])
    assert cloud is not None
    return machine | {"cloud": asdict(cloud), "memory_bytes": int(16 * 0.975 * 2**30)}


@pytest.mark.parametrize(
    ("sample", "sku"),
    [("github-x64-epyc-7763", "linux_4_core"), ("github-arm64-cobalt-100", "linux_4_core_arm")],
)
def test_a_recorded_runner_is_priced_as_its_github_sku(sample: str, sku: str) -> None:
    """A 4-vCPU x64 (EPYC 7763) or arm64 (Cobalt 100) runner is GitHub's 4-core SKU, no warning."""
    catalog = load_catalog()
    match = match_host(_runner_env(sample), catalog)
    assert (match.target, match.how) == (catalog[sku], "env"), match.reason
    assert "warning" not in match.reason


def test_a_self_hosted_runner_is_the_machine_it_is() -> None:
    """RUNNER_ENVIRONMENT=self-hosted leaves identification to DMI and the CPU."""
    assert github_runner({**HOSTED, "RUNNER_ENVIRONMENT": "self-hosted"}, "x86_64", 4) is None
    assert github_runner({}, "x86_64", 4) is None


def test_env_on_a_hosted_runner_names_github_and_records_its_variables(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With GitHub's variables set, ``env`` says github and the SKU of this host's shape, and
    records the variables."""
    for name, value in {**HOSTED, "RUNNER_OS": "Linux"}.items():
        monkeypatch.setenv(name, value)
    result = harness("env", "--json")
    assert result.returncode == 0, result.stderr
    env = json.loads(result.stdout)
    arm = "_arm" if env["arch"] == "aarch64" else ""
    assert env["cloud"] == {"cloud": "github", "instance_type": f"linux_{os.cpu_count()}_core{arm}",
                            "source": "env:GITHUB_ACTIONS+RUNNER_ENVIRONMENT"}  # fmt: skip
    assert {"GITHUB_ACTIONS", "RUNNER_ENVIRONMENT", "RUNNER_OS"} <= set(env["env_vars"])


def test_a_runner_shape_the_catalog_lacks_is_unpriced_with_its_sku_named() -> None:
    """A 2-vCPU runner's SKU (not in the catalog) is unpriced, and the reason names it."""
    env = _runner_env("github-arm64-cobalt-100")
    env["cloud"]["instance_type"] = "linux_2_core_arm"
    match = match_host(env, load_catalog())
    assert match.target is None and "linux_2_core_arm" in match.reason
