"""Recorded host samples, and a fake /sys/class/dmi/id built from them, for the tests."""

from __future__ import annotations

import re
from pathlib import Path

HOSTS = Path(__file__).parent / "data" / "hosts"

# dmidecode section titles (and sbc-bench's summary titles) -> sysfs file prefix.
_SECTIONS = {
    "BIOS Information": "bios",
    "BIOS/UEFI": "bios",
    "System Information": "system",
    "Device Info": "system",
    "Base Board Information": "board",
    "Chassis Information": "chassis",
}
# (section, dmidecode field) -> the sysfs file the kernel shows it in (drivers/firmware/dmi-id.c).
_SYSFS = {
    ("bios", "Vendor"): "bios_vendor",
    ("bios", "Version"): "bios_version",
    ("bios", "Release Date"): "bios_date",
    ("system", "Manufacturer"): "sys_vendor",
    ("system", "Product Name"): "product_name",
    ("system", "Version"): "product_version",
    ("system", "Serial Number"): "product_serial",
    ("system", "UUID"): "product_uuid",
    ("system", "SKU Number"): "product_sku",
    ("system", "Family"): "product_family",
    ("board", "Manufacturer"): "board_vendor",
    ("board", "Product Name"): "board_name",
    ("board", "Version"): "board_version",
    ("board", "Serial Number"): "board_serial",
    ("board", "Asset Tag"): "board_asset_tag",
    ("chassis", "Manufacturer"): "chassis_vendor",
    ("chassis", "Version"): "chassis_version",
    ("chassis", "Serial Number"): "chassis_serial",
    ("chassis", "Asset Tag"): "chassis_asset_tag",
}
_TRANSCRIPT = re.compile(r"^\$ cat /sys/class/dmi/id/(\w+)\s*$")


def sample(name: str, file: str) -> str:
    """The text of one recorded sample, e.g. sample("graviton4", "cpuinfo.txt")."""
    return (HOSTS / name / file).read_text(encoding="utf-8")


def dmi_values(text: str) -> dict[str, str]:
    """sysfs file name -> value, from dmidecode output or a `cat /sys/class/dmi/id/...` log.

    dmidecode prints "Not Specified" for an absent string; the kernel shows no file for those,
    so they are left out. Only the first handle of each section type counts.
    """
    values: dict[str, str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = _TRANSCRIPT.match(line)
        if match and i + 1 < len(lines):
            values[match.group(1)] = lines[i + 1].strip()
    section = None
    for line in lines:
        if line and not line[0].isspace():
            section = _SECTIONS.get(line.strip().rstrip(":"))
        elif section and line.startswith("\t") and not line.startswith("\t\t"):
            field, _, value = line.strip().partition(": ")
            name = _SYSFS.get((section, field))
            if name and value.strip() != "Not Specified":
                values.setdefault(name, value.strip())
    return values


def fake_sysfs(text: str, root: Path) -> Path:
    """Write ``text``'s DMI values as a /sys/class/dmi/id-like directory under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, value in dmi_values(text).items():
        (root / name).write_text(value + "\n", encoding="utf-8")
    return root
