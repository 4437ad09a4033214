"""Which cloud, and which instance type, from the SMBIOS strings in /sys/class/dmi/id.

The harness never asks an instance metadata service: that needs the network, differs per cloud
and hangs off-cloud. DMI is local, world-readable (except serials and UUIDs, never read here),
and on AWS Nitro it names the instance type outright.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DMI_ROOT = Path("/sys/class/dmi/id")
# Only these files are read: serials, UUIDs and asset tags other than the chassis one are
# per-machine identifiers and stay out of result files.
DMI_FIELDS = (
    "sys_vendor",
    "product_name",
    "product_version",
    "board_vendor",
    "board_name",
    "bios_vendor",
    "bios_version",
    "chassis_vendor",
    "chassis_asset_tag",
)
# "MSFT AZURE VM" in ASCII decimal: set on every Azure VM, absent on plain Hyper-V.
AZURE_ASSET_TAG = "7783-7084-3265-9085-8269-3286-77"
OCI_ASSET_TAG = "OracleCloud.com"
_AWS_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9-]+")  # m6g.metal, c7i.metal-48xl, t3.micro


@dataclass(frozen=True)
class CloudIdentity:
    """The cloud (None when unknown), its instance type when known, and what told us."""

    cloud: str | None
    instance_type: str | None
    source: str


def read_dmi(root: Path = DMI_ROOT) -> dict[str, str]:
    """The readable, non-empty DMI_FIELDS under ``root``; missing or unreadable ones are skipped."""
    values: dict[str, str] = {}
    for name in DMI_FIELDS:
        try:
            value = (root / name).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if value:
            values[name] = value
    return values


def _from_dmi(dmi: Mapping[str, str]) -> CloudIdentity:
    """The cloud that the DMI strings prove, in the ways cloud-init and the clouds document."""
    values = {key: value.strip() for key, value in dmi.items()}

    def get(key: str) -> str:
        return values.get(key, "")

    if "Amazon EC2" in (get("sys_vendor"), get("board_vendor")):
        product = get("product_name")
        if _AWS_TYPE.fullmatch(product):
            return CloudIdentity("aws", product, "dmi:product_name")
        return CloudIdentity("aws", None, "dmi:sys_vendor")
    if get("bios_vendor") == "Amazon" or "amazon" in get("bios_version").lower():
        return CloudIdentity("aws", None, "dmi:bios")  # older Xen instances: no type in DMI
    if get("sys_vendor") == "Google" or get("product_name") == "Google Compute Engine":
        return CloudIdentity("gcp", None, "dmi:sys_vendor")
    if get("chassis_asset_tag") == AZURE_ASSET_TAG:
        return CloudIdentity("azure", None, "dmi:chassis_asset_tag")
    if get("chassis_asset_tag") == OCI_ASSET_TAG:
        return CloudIdentity("oci", None, "dmi:chassis_asset_tag")
    if get("sys_vendor") == "Alibaba Cloud" or get("product_name") == "Alibaba Cloud ECS":
        return CloudIdentity("alibaba", None, "dmi:sys_vendor")
    return CloudIdentity(None, None, "none")


def identify_cloud(dmi: Mapping[str, str], instance_type: str | None = None) -> CloudIdentity:
    """The cloud from DMI strings; a given ``instance_type`` wins over what DMI says."""
    found = _from_dmi(dmi)
    if instance_type:
        return CloudIdentity(found.cloud, instance_type, "override")
    return found


def github_runner(environ: Mapping[str, str], arch: str, vcpus: int | None) -> CloudIdentity | None:
    """A GitHub-hosted Actions runner, from the variables GitHub sets in every job. Its DMI
    says Azure (the runners are Azure VMs), but it is billed as GitHub's runner SKU of its
    shape (``linux_4_core``, ``linux_4_core_arm``), so that is the type; None elsewhere."""
    if environ.get("GITHUB_ACTIONS") != "true":
        return None
    if environ.get("RUNNER_ENVIRONMENT") != "github-hosted":
        return None  # a self-hosted runner is whatever machine it is
    return CloudIdentity("github", runner_sku(arch, vcpus), "env:GITHUB_ACTIONS+RUNNER_ENVIRONMENT")


def runner_sku(arch: str, vcpus: int | None) -> str | None:
    """GitHub's billing SKU of a hosted Linux runner of this shape. The 2-vCPU x64 shape is the
    standard runner of private repositories, billed as ``linux``; every other shape has a
    ``linux_{n}_core`` SKU (``actions-runner-pricing.md``), ``_arm`` for arm64."""
    if not vcpus:
        return None
    if vcpus == 2 and arch != "aarch64":
        return "linux"
    return f"linux_{vcpus}_core{'_arm' if arch == 'aarch64' else ''}"
