"""GitHub-hosted Actions runners: told by GitHub's own variables, priced as GitHub's SKUs."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Any

import pytest

from conftest import Harness
from harness.host.cloud import github_runner, runner_sku
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


@pytest.mark.parametrize(
    ("sample", "chip"),
    [("amd-9v45-github-x64-azure", "EPYC 9V45"), ("intel-6973p-c-github-x64-azure", "Xeon 6973P-C"),
     ("intel-8573c-github-x64-azure", "Xeon Platinum 8573C")],
)  # fmt: skip
def test_a_runner_on_another_cpu_keeps_the_skus_price_and_its_own_cpu(
    sample: str, chip: str
) -> None:
    """GitHub bills the shape whatever CPU it assigns: a Turin, Granite Rapids or Emerald Rapids
    runner is linux_4_core at its price, named by its own CPU, with no warning."""
    row = load_catalog()["linux_4_core"]
    match = match_host(_runner_env(sample), load_catalog())
    assert match.target is not None and match.how == "env"
    assert (match.target.type, match.target.price_per_hour) == ("linux_4_core", row.price_per_hour)
    assert match.target.chip == chip and chip in match.reason
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
    sku = runner_sku(env["arch"], os.cpu_count())
    assert env["cloud"] == {"cloud": "github", "instance_type": sku,
                            "source": "env:GITHUB_ACTIONS+RUNNER_ENVIRONMENT"}  # fmt: skip
    assert {"GITHUB_ACTIONS", "RUNNER_ENVIRONMENT", "RUNNER_OS"} <= set(env["env_vars"])


def test_a_runner_shape_the_catalog_lacks_is_unpriced_with_its_sku_named() -> None:
    """An 8-vCPU runner's SKU (not in the catalog) is unpriced, and the reason names it."""
    env = _runner_env("github-arm64-cobalt-100")
    env["cloud"]["instance_type"] = "linux_8_core_arm"
    match = match_host(env, load_catalog())
    assert match.target is None and "linux_8_core_arm" in match.reason


@pytest.mark.parametrize(
    ("arch", "vcpus", "sku"),
    [("x86_64", 2, "linux"), ("x86_64", 4, "linux_4_core"), ("aarch64", 2, "linux_2_core_arm"),
     ("aarch64", 4, "linux_4_core_arm"), ("x86_64", 16, "linux_16_core")],
)  # fmt: skip
def test_each_runner_shape_gets_githubs_billing_sku(arch: str, vcpus: int, sku: str) -> None:
    """The 2-vCPU x64 shape is the standard ``linux`` SKU; the others ``linux_{n}_core[_arm]``."""
    assert runner_sku(arch, vcpus) == sku


@pytest.mark.parametrize(("arch", "sku"), [("x86_64", "linux"), ("aarch64", "linux_2_core_arm")])
def test_a_two_vcpu_runner_of_a_private_repository_is_priced(arch: str, sku: str) -> None:
    """The 2-vCPU shapes that private repositories get have catalog rows at GitHub's rates."""
    target = load_catalog()[sku]
    assert (target.cloud, target.vcpus, target.arch) == ("github", 2, arch)
    assert target.price_per_hour == pytest.approx(
        {"linux": 0.006, "linux_2_core_arm": 0.005}[sku] * 60
    )
