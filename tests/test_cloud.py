"""Cloud and instance type from DMI, read from fake sysfs trees built from real dmidecode dumps."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.host.cloud import DMI_FIELDS, CloudIdentity, identify_cloud, read_dmi
from hostdata import dmi_values, fake_sysfs, sample

# sample directory -> what its DMI strings say
CLOUDS = {
    "amd-7r13-hpc6a.48xlarge": CloudIdentity("aws", "hpc6a.48xlarge", "dmi:product_name"),
    "graviton2-m6g.metal": CloudIdentity("aws", "m6g.metal", "dmi:product_name"),
    "amd-7v73x-azure-hbv3": CloudIdentity("azure", None, "dmi:chassis_asset_tag"),
    "amd-7b13-gcp-c2d-standard-112": CloudIdentity("gcp", None, "dmi:sys_vendor"),
    "derived-oci-chassis-tag": CloudIdentity("oci", None, "dmi:chassis_asset_tag"),
    "ampere-altra-oci-a1": CloudIdentity(None, None, "none"),
    "derived-hyperv-no-azure-tag": CloudIdentity(None, None, "none"),
}


@pytest.mark.parametrize("name", CLOUDS)
def test_the_cloud_is_read_from_a_sysfs_tree_of_each_recorded_host(
    tmp_path: Path, name: str
) -> None:
    """AWS names the instance type; GCP, Azure and OCI only the cloud; others nothing."""
    root = fake_sysfs(sample(name, "dmi.txt"), tmp_path / "dmi")
    assert identify_cloud(read_dmi(root)) == CLOUDS[name]


def test_a_plain_hyper_v_guest_is_not_azure_and_the_azure_tag_is_what_tells() -> None:
    """Microsoft Corporation / Virtual Machine alone is any Hyper-V; Azure adds its asset tag."""
    plain = dmi_values(sample("derived-hyperv-no-azure-tag", "dmi.txt"))
    assert plain["sys_vendor"] == "Microsoft Corporation" and "chassis_asset_tag" not in plain
    tagged = {**plain, "chassis_asset_tag": "7783-7084-3265-9085-8269-3286-77"}
    assert identify_cloud(tagged).cloud == "azure"


def test_read_dmi_returns_only_the_allowed_fields_never_serials_or_uuids(tmp_path: Path) -> None:
    """The hpc6a dump has serials, a UUID and the instance id; none of them is read."""
    root = fake_sysfs(sample("amd-7r13-hpc6a.48xlarge", "dmi.txt"), tmp_path / "dmi")
    assert {"product_serial", "product_uuid", "board_asset_tag"} <= {p.name for p in root.iterdir()}
    values = read_dmi(root)
    assert set(values) <= set(DMI_FIELDS)
    assert values["product_name"] == "hpc6a.48xlarge"
    assert not any(v.startswith(("ec2", "i-")) for v in values.values())


def test_read_dmi_skips_missing_unreadable_and_empty_files(tmp_path: Path) -> None:
    """No /sys/class/dmi (a sandbox), a directory in a file's place, an empty file: all skipped."""
    assert read_dmi(tmp_path / "absent") == {}
    (tmp_path / "sys_vendor").mkdir()
    (tmp_path / "product_name").write_text("\n", encoding="utf-8")
    (tmp_path / "bios_vendor").write_bytes(b"Amazon EC2\xff\n")
    assert read_dmi(tmp_path) == {"bios_vendor": "Amazon EC2\ufffd"}


def test_a_given_instance_type_overrides_dmi_and_keeps_the_cloud() -> None:
    """--instance-type wins (GCP and Azure cannot name it), and says it came from the user."""
    gcp = dmi_values(sample("amd-7b13-gcp-c2d-standard-112", "dmi.txt"))
    assert identify_cloud(gcp, "c2d-standard-112") == CloudIdentity(
        "gcp", "c2d-standard-112", "override"
    )
    assert identify_cloud({}, "m7i.large") == CloudIdentity(None, "m7i.large", "override")


@pytest.mark.parametrize(
    ("dmi", "expected"),
    [
        ({"sys_vendor": "Alibaba Cloud", "product_name": "Alibaba Cloud ECS"}, "alibaba"),
        ({"sys_vendor": "Xen", "product_name": "HVM domU", "bios_vendor": "Amazon"}, "aws"),
        ({"sys_vendor": "QEMU", "product_name": "Standard PC (Q35 + ICH9, 2009)"}, None),
        ({}, None),
    ],
    ids=["alibaba", "aws-xen", "qemu", "nothing"],
)
def test_clouds_without_a_recorded_dump_are_told_by_their_documented_strings(
    dmi: dict[str, str], expected: str | None
) -> None:
    """Alibaba's and old Xen AWS's strings (cloud-init's checks); anything else is no cloud."""
    found = identify_cloud(dmi)
    assert (found.cloud, found.instance_type) == (expected, None)


def test_an_aws_product_name_that_is_not_an_instance_type_is_not_reported_as_one() -> None:
    """Only a name shaped like family.size becomes the instance type."""
    found = identify_cloud({"sys_vendor": "Amazon EC2", "product_name": "Not Specified"})
    assert found == CloudIdentity("aws", None, "dmi:sys_vendor")
