"""Identification from recorded files instead of this host (``harness identify DIR``).

A folder holds any of ``cpuinfo.txt`` (a copy of /proc/cpuinfo), ``lscpu.txt``, and DMI as
``dmi.txt`` (``dmidecode`` output, or a ``cat /sys/class/dmi/id/...`` transcript) or a ``dmi/``
copy of /sys/class/dmi/id. Users check a machine they cannot run on; the tests use it too.
The result has the ``cpu``, ``cloud`` and ``topology`` objects ``harness env --json`` prints.
"""

from __future__ import annotations

import re
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.host.cloud import identify_cloud, read_dmi
from harness.host.cpuid import CpuFacts, identify, parse_cpuinfo, parse_lscpu
from harness.host.environment import cpu_record

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


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UserError(f"identify {path}: cannot read ({exc.strerror or exc})") from None


COUNTS = ("logical_cpus", "cores", "sockets", "threads_per_core")


def merged(cpuinfo: CpuFacts, lscpu: CpuFacts) -> CpuFacts:
    """Identity from cpuinfo and counts from lscpu (a pasted cpuinfo is often one CPU's block),
    each with what it lacks taken from the other."""

    def pick(name: str) -> Any:
        first, second = (lscpu, cpuinfo) if name in COUNTS else (cpuinfo, lscpu)
        value = getattr(first, name)
        return getattr(second, name) if value in (None, (), "unknown") else value

    return CpuFacts(**{f.name: pick(f.name) for f in fields(CpuFacts)})


def read_folder(folder: Path) -> tuple[CpuFacts, dict[str, str], tuple[str, ...]]:
    """The CPU facts and DMI values a folder records, and which files they came from."""
    if not folder.is_dir():
        raise UserError(f"identify {folder}: not a folder")
    cpuinfo, lscpu = _text(folder / "cpuinfo.txt"), _text(folder / "lscpu.txt")
    dmi_text = _text(folder / "dmi.txt")
    dmi = dmi_values(dmi_text) if dmi_text is not None else read_dmi(folder / "dmi")
    used = tuple(name for name, found in (("cpuinfo.txt", cpuinfo), ("lscpu.txt", lscpu),
                 ("dmi.txt", dmi_text), ("dmi/", dmi and dmi_text is None)) if found)  # fmt: skip
    if cpuinfo is None and lscpu is None:
        raise UserError(f"identify {folder}: holds neither cpuinfo.txt nor lscpu.txt")
    facts = [parse_cpuinfo(t) if name == "c" else parse_lscpu(t)
             for name, t in (("c", cpuinfo), ("l", lscpu)) if t is not None]  # fmt: skip
    return (merged(*facts) if len(facts) == 2 else facts[0]), dmi, used


def identify_folder(folder: Path, instance_type: str | None = None) -> dict[str, Any]:
    """What ``harness env --json`` would say of the recorded machine: cpu, cloud, topology."""
    facts, dmi, used = read_folder(folder)
    cloud = identify_cloud(dmi, instance_type)
    return {
        "folder": str(folder),
        "files": list(used),
        "arch": facts.arch,
        "cpu": cpu_record(facts, identify(facts, cloud.cloud)),
        "cloud": asdict(cloud),
        "topology": {
            "vcpus": facts.logical_cpus,
            "usable_cpus": None,
            "physical_cores": facts.cores,
            "threads_per_core": facts.threads_per_core,
            "sockets": facts.sockets,
        },
    }
