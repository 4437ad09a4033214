"""Who is this CPU: parse /proc/cpuinfo or lscpu text, then decode it with targets/chips.toml.

Everything here is pure (text in, values out) so it is tested on real recorded samples from
cloud hosts; only ``chip_table.load_chip_table`` reads a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.host.chip_table import ArmChip, ArmRow, ChipTable, X86Row, load_chip_table


@dataclass(frozen=True)
class CpuFacts:
    """What the OS says about the CPU; None wherever the text did not say."""

    arch: str = "unknown"  # "x86_64", "aarch64" or "unknown"
    vendor_id: str | None = None  # "GenuineIntel", "AuthenticAMD"; None on Arm
    model_name: str | None = None
    family: int | None = None
    model: int | None = None
    stepping: int | None = None
    implementer: int | None = None  # Arm MIDR fields
    part: int | None = None
    variant: int | None = None
    revision: int | None = None
    logical_cpus: int | None = None
    cores: int | None = None
    sockets: int | None = None
    threads_per_core: int | None = None
    flags: tuple[str, ...] = ()
    bogomips: float | None = None
    bios_model_name: str | None = None  # lscpu "BIOS Model name" (SMBIOS), shown to root only


@dataclass(frozen=True)
class Chip:
    """A decoded CPU. ``candidates`` is non-empty only when the evidence cannot decide."""

    vendor: str
    name: str
    family: str
    core: str
    llvm_cpu: str | None
    candidates: tuple[str, ...] = ()
    known: bool = True
    evidence: str = ""  # what named it: the brand string, MIDR and BogoMIPS, CPU flags...
    confidence: str = "identified"  # "identified", "inferred", "candidates" or "unknown"


# lscpu prints the implementer's name, not its number (util-linux sys-utils/lscpu-arm.c).
LSCPU_ARM_VENDORS: Mapping[str, int] = {
    "ARM": 0x41, "Broadcom": 0x42, "Cavium": 0x43, "FUJITSU": 0x46, "HiSilicon": 0x48,
    "NVIDIA": 0x4e, "APM": 0x50, "Qualcomm": 0x51, "Samsung": 0x53, "Marvell": 0x56,
    "Apple": 0x61, "Microsoft": 0x6d, "Phytium": 0x70, "Ampere": 0xc0,
}  # fmt: skip
_ARM_IDS = {name.lower(): number for name, number in LSCPU_ARM_VENDORS.items()}
X86_VENDORS: Mapping[str, str] = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD"}
_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def _int(text: str | None) -> int | None:
    """An int written in decimal or 0x-hex, or None."""
    text = (text or "").strip()
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    try:
        return float(text or "")
    except ValueError:
        return None


# ------------------------------------------------------------------------------ /proc/cpuinfo
def parse_cpuinfo(text: str) -> CpuFacts:
    """Facts from /proc/cpuinfo (x86 or Arm): identity from the first block, counts from all."""
    f: dict[str, str] = {}
    logical, packages = 0, set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if sep:
            logical += key == "processor"
            packages.update([value] if key == "physical id" else [])
            f.setdefault(key, value)
    flags = tuple((f.get("flags") or f.get("features") or "").split())
    bogomips, implementer = _float(f.get("bogomips")), _int(f.get("cpu implementer"))
    vendor_id, model_name = f.get("vendor_id"), f.get("model name") or None
    if implementer is not None or (vendor_id is None and "features" in f):
        return CpuFacts(
            arch="aarch64", model_name=model_name, implementer=implementer,
            part=_int(f.get("cpu part")), variant=_int(f.get("cpu variant")),
            revision=_int(f.get("cpu revision")), logical_cpus=logical or None,
            cores=logical or None, threads_per_core=1, flags=flags, bogomips=bogomips,
        )  # fmt: skip
    siblings, per_socket = _int(f.get("siblings")), _int(f.get("cpu cores"))
    threads = siblings // per_socket if siblings and per_socket else None
    return CpuFacts(
        arch="x86_64" if vendor_id or flags else "unknown", vendor_id=vendor_id,
        model_name=model_name, family=_int(f.get("cpu family")), model=_int(f.get("model")),
        stepping=_int(f.get("stepping")), logical_cpus=logical or None,
        cores=max(len(packages), 1) * per_socket if per_socket else None,
        sockets=len(packages) or None, threads_per_core=threads or None, flags=flags,
        bogomips=bogomips,
    )  # fmt: skip


# -------------------------------------------------------------------------------------- lscpu
_LSCPU_LINE = re.compile(r"^\s*([^:]+?):[ \t]*")


def _lscpu_fields(text: str) -> dict[str, str]:
    """Key -> value of lscpu output, flat or tree layout, first occurrence of each key.

    A line indented to the previous value's column continues that value: lscpu wraps long
    values (Flags) at the terminal width, mid-word, so the pieces are joined without a space.
    """
    fields: dict[str, str] = {}
    key, col = "", 0
    for line in text.replace("\r", "").split("\n"):
        if key and len(line) > col and not line[:col].strip():
            fields[key] += line[col:]
            continue
        match = _LSCPU_LINE.match(line)
        name, col = (match.group(1).strip().lower(), match.end()) if match else ("", 0)
        key = "" if name in fields else name  # keep the first occurrence (the first CPU type)
        if key:
            fields[key] = line[col:]
    return {k: v.strip() for k, v in fields.items()}


def parse_lscpu(text: str) -> CpuFacts:
    """Facts from lscpu output: util-linux flat or tree layout, with or without BIOS lines."""
    f = _lscpu_fields(text)
    logical, threads = _int(f.get("cpu(s)")), _int(f.get("thread(s) per core"))
    sockets, per_socket = _int(f.get("socket(s)")), _int(f.get("core(s) per socket"))
    # Arm hosts without PPTT report "Core(s) per cluster" and "Cluster(s)" instead.
    per_group = per_socket if per_socket is not None else _int(f.get("core(s) per cluster"))
    groups = sockets if per_socket is not None else _int(f.get("cluster(s)")) or sockets
    cores = per_group * (groups or 1) if per_group is not None else None
    model_name = f.get("model name") or None
    common: dict[str, Any] = {
        "logical_cpus": logical, "cores": cores, "sockets": sockets, "threads_per_core": threads,
        "flags": tuple(f.get("flags", "").split()), "bogomips": _float(f.get("bogomips")),
        "bios_model_name": f.get("bios model name") or None,
    }  # fmt: skip
    vendor = f.get("vendor id", "")
    guess = "x86_64" if vendor in X86_VENDORS else "unknown"
    arch = _ARCHES.get(f.get("architecture", "").lower(), guess)
    if arch == "aarch64" or (arch == "unknown" and vendor.lower() in _ARM_IDS):
        rxpy = re.fullmatch(r"r(\d+)p(\d+)", f.get("stepping", ""))  # variant, revision
        stepping, model = rxpy.groups() if rxpy else (f.get("stepping"), f.get("model"))
        variant, revision = _int(stepping), _int(model)
        hex_name = model_name is not None and model_name.lower().startswith("0x")
        return CpuFacts(
            arch="aarch64", implementer=_ARM_IDS.get(vendor.lower(), _int(vendor)),
            part=_int(model_name) if hex_name else None,
            model_name=None if hex_name or model_name == "-" else model_name,
            variant=variant, revision=revision, **common,
        )  # fmt: skip
    return CpuFacts(
        arch=arch, vendor_id=vendor or None, model_name=model_name,
        family=_int(f.get("cpu family")), model=_int(f.get("model")),
        stepping=_int(f.get("stepping")), **common,
    )  # fmt: skip


# ----------------------------------------------------------------------------------- identify
def _verdict(chip: ArmChip, facts: CpuFacts) -> bool | None:
    """True: all checkable evidence fits the chip; False: some contradicts; None: none to check."""
    checks = []
    if chip.bogomips is not None and facts.bogomips is not None:
        checks.append(abs(chip.bogomips - facts.bogomips) < 0.005)
    if facts.flags and (chip.flags_present or chip.flags_absent):
        have = set(facts.flags)
        checks.append(have.issuperset(chip.flags_present) and not have & set(chip.flags_absent))
    if chip.bios_model is not None and facts.bios_model_name:
        checks.append(chip.bios_model in facts.bios_model_name)
    # lscpu's count of one socket; a VM's is its own shape, so it can only rule out
    most = chip.max_cores_per_socket
    if most is not None and facts.cores and facts.sockets and facts.cores > most * facts.sockets:
        return False
    return all(checks) if checks else None


def _arm_row_for(facts: CpuFacts, table: ChipTable) -> ArmRow | None:
    for row in table.arm:
        if facts.implementer == row.implementer and facts.part == row.part:
            return row
    if facts.part is None and facts.model_name:
        for row in table.arm:
            same_vendor = facts.implementer in (None, row.implementer)
            if same_vendor and (row.lscpu_name or "").lower() == facts.model_name.lower():
                return row
    return None


def _pick(row: ArmRow, facts: CpuFacts, cloud: str | None) -> Chip:
    """The chip on this part: settled by the cloud, then by the evidence, else candidates.

    On a known cloud the pool is the chips that cloud sells, else those no catalog cloud is
    known to sell (on-premises parts, `clouds` empty); a chip of another cloud is never
    borrowed, so a cloud that sells none of them leaves the bare core."""
    listed = [c for c in row.chips if cloud in c.clouds]
    pool = list(row.chips) if not cloud else listed or [c for c in row.chips if not c.clouds]
    survivors = [c for c in pool if _verdict(c, facts) is not False]
    confirmed = [c for c in survivors if _verdict(c, facts)]
    chosen = pool if len(pool) == 1 else survivors if len(survivors) == 1 else confirmed
    midr = "MIDR implementer and part"
    if len(chosen) == 1:
        why = midr if len(row.chips) == 1 else f"{midr}, then the cloud" if chosen is pool else (
            f"{midr}, then BogoMIPS, flags or BIOS model name")  # fmt: skip
        c = chosen[0]
        return Chip(c.vendor, c.name, c.family, row.core, row.llvm_cpu, evidence=why)
    left = survivors or pool
    names = tuple(c.name for c in left)
    why = f"{midr}: {row.core}, which the cloud and the evidence leave to several chips"
    if len(left) > 1 and len({(c.vendor, c.family) for c in left}) == 1:  # Altra or Altra Max
        name = " or ".join(names)
        return Chip(left[0].vendor, name, left[0].family, row.core, row.llvm_cpu,
                    candidates=names, evidence=why, confidence="candidates")  # fmt: skip
    return Chip(row.vendor, row.core, row.core, row.core, row.llvm_cpu, candidates=names,
                evidence=why, confidence="candidates")  # fmt: skip


def _x86_matches(row: X86Row, facts: CpuFacts, by: str) -> bool:
    if facts.vendor_id is not None and facts.vendor_id != row.vendor_id:
        return False
    if by == "name":
        return row.model_name is not None and bool(row.model_name.search(facts.model_name or ""))
    if by == "flags":
        return bool(row.flags) and set(row.flags) <= set(facts.flags)
    model = facts.model
    if row.cpu_family is None or facts.family != row.cpu_family or model is None:
        return False
    in_model = model in row.models or any(lo <= model <= hi for lo, hi in row.model_ranges)
    return in_model and (not row.steppings or facts.stepping in row.steppings)


_X86_EVIDENCE = {"name": "the brand string (model name)", "model": "CPUID family and model"}


def _identify_x86(facts: CpuFacts, table: ChipTable) -> Chip | None:
    """The first row matching the brand string, else family and model, else (a masked guest)
    the CPU flags, which only narrow it to a generation or later: marked inferred."""
    for by in ("name", "model", "flags"):
        r = next((r for r in table.x86 if _x86_matches(r, facts, by)), None)
        if r is not None:
            flags = f"CPU flags {', '.join(r.flags)} (brand and model masked)"
            return Chip(r.vendor, r.name, r.family, r.core, r.llvm_cpu,
                        evidence=_X86_EVIDENCE.get(by, flags),
                        confidence="inferred" if by == "flags" else "identified")  # fmt: skip
    return None


def _unknown(facts: CpuFacts) -> Chip:
    """known=False, named by what the OS said, or by the MIDR numbers on a silent Arm."""
    impl, part, name = facts.implementer, facts.part, facts.model_name
    if impl is None:
        vendor = X86_VENDORS.get(facts.vendor_id or "", facts.vendor_id or "unknown")
        return Chip(vendor, name or "unknown CPU", "unknown", "unknown", None, known=False,
                    evidence="not in the chip table", confidence="unknown")  # fmt: skip
    vendor = next((n for n, i in LSCPU_ARM_VENDORS.items() if i == impl), "unknown")
    ids = f"implementer {impl:#x}" + ("" if part is None else f", part {part:#x}")
    return Chip(vendor, name or f"Arm CPU ({ids})", "unknown", "unknown", None, known=False,
                evidence="not in the chip table", confidence="unknown")  # fmt: skip


def identify(facts: CpuFacts, cloud: str | None = None, table: ChipTable | None = None) -> Chip:
    """Decode the CPU; ``cloud`` ("aws", "gcp", ...) settles parts that several clouds share.

    Never raises for an unknown CPU: it comes back with ``known=False`` and its raw name.
    """
    table = table or load_chip_table()
    if facts.arch == "aarch64" or facts.implementer is not None:
        row = _arm_row_for(facts, table)
        return _pick(row, facts, cloud) if row else _unknown(facts)
    return _identify_x86(facts, table) or _unknown(facts)
