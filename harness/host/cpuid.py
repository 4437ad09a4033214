"""Who is this CPU: parse /proc/cpuinfo or lscpu text, then decode it with targets/chips.toml.

Everything here is pure (text in, values out) so it is tested on real recorded samples from
cloud hosts; only :func:`load_chip_table` reads a file.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness.errors import UserError


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


@dataclass(frozen=True)
class ArmChip:
    """One product built on an Arm part, with the evidence that tells it apart."""

    vendor: str
    name: str
    family: str
    clouds: tuple[str, ...] = ()
    bogomips: float | None = None
    flags_present: tuple[str, ...] = ()
    flags_absent: tuple[str, ...] = ()
    bios_model: str | None = None


@dataclass(frozen=True)
class ArmRow:
    implementer: int
    part: int
    vendor: str
    core: str
    llvm_cpu: str
    lscpu_name: str | None = None
    chips: tuple[ArmChip, ...] = ()


@dataclass(frozen=True)
class X86Row:
    vendor_id: str
    vendor: str
    name: str
    family: str
    core: str
    llvm_cpu: str
    model_name: re.Pattern[str] | None = None
    cpu_family: int | None = None
    models: tuple[int, ...] = ()
    model_ranges: tuple[tuple[int, int], ...] = ()
    steppings: tuple[int, ...] = ()
    clouds: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChipTable:
    arm: tuple[ArmRow, ...]
    x86: tuple[X86Row, ...]


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


# --------------------------------------------------------------------------------- chip table
# Key -> kind of each table row; a trailing "?" marks an optional key.
_SPECS: dict[str, dict[str, str]] = {
    "top": {"arm": "[table]?", "x86": "[table]?"},
    "arm": {"implementer": "int", "part": "int", "vendor": "str", "core": "str",
            "llvm_cpu": "str", "lscpu_name": "str?", "chip": "[table]?"},
    "chip": {"vendor": "str", "name": "str", "family": "str", "clouds": "[str]?",
             "bogomips": "float?", "flags_present": "[str]?", "flags_absent": "[str]?",
             "bios_model": "str?"},
    "x86": {"vendor_id": "str", "vendor": "str", "name": "str", "family": "str", "core": "str",
            "llvm_cpu": "str", "model_name": "str?", "cpu_family": "int?", "models": "[int]?",
            "model_ranges": "[[int]]?", "steppings": "[int]?", "clouds": "[str]?"},
}  # fmt: skip
_SCALARS: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float)}


def _fits(value: Any, kind: str) -> bool:
    if kind.startswith("["):
        return isinstance(value, list) and all(_fits(v, kind[1:-1]) for v in value)
    if kind == "table":
        return isinstance(value, dict)
    return isinstance(value, _SCALARS[kind]) and not isinstance(value, bool)


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _row(raw: Any, kind: str, where: str) -> dict[str, Any]:
    """A table row checked against its spec, lists made tuples; UserError names the bad key."""
    spec = _SPECS[kind]
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a table, got {raw!r}")
    unknown = sorted(raw.keys() - spec.keys())
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(spec)})")
    for key, want in spec.items():
        if key not in raw and not want.endswith("?"):
            raise UserError(f"{where}: missing key {key!r}")
        if key in raw and not _fits(raw[key], want.rstrip("?")):
            raise UserError(f"{where}: key {key!r} must be {want.rstrip('?')}, got {raw[key]!r}")
    return {k: _tuples(v) for k, v in raw.items()}


def _arm_row(raw: Any, where: str) -> ArmRow:
    row = _row(raw, "arm", where)
    chips = row.pop("chip", ())
    return ArmRow(**row, chips=tuple(
        ArmChip(**_row(c, "chip", f"{where} chip {j}")) for j, c in enumerate(chips, 1)
    ))  # fmt: skip


def _x86_row(raw: Any, where: str) -> X86Row:
    row = _row(raw, "x86", where)
    if "model_name" not in row and "cpu_family" not in row:
        raise UserError(f"{where}: missing key 'model_name' or 'cpu_family'")
    if any(len(pair) != 2 for pair in row.get("model_ranges", ())):
        raise UserError(f"{where}: key 'model_ranges' must hold [low, high] pairs")
    try:
        if "model_name" in row:
            row["model_name"] = re.compile(row["model_name"])
    except re.error as exc:
        raise UserError(f"{where}: key 'model_name' is not a regular expression: {exc}") from exc
    return X86Row(**row)


def parse_chip_table(text: str, source: str = "chips.toml") -> ChipTable:
    """The chip table from TOML text; UserError names ``source``, the row and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{source}: not valid TOML: {exc}") from exc
    _row(data, "top", source)
    arm = [_arm_row(r, f"{source}: [[arm]] row {i}") for i, r in enumerate(data.get("arm", []), 1)]
    x86 = [_x86_row(r, f"{source}: [[x86]] row {i}") for i, r in enumerate(data.get("x86", []), 1)]
    return ChipTable(arm=tuple(arm), x86=tuple(x86))


@functools.cache
def _packaged_table() -> ChipTable:
    resource = files("targets") / "chips.toml"
    return parse_chip_table(resource.read_text(encoding="utf-8"), str(resource))


def load_chip_table(path: Path | None = None) -> ChipTable:
    """The chip table at ``path``, or the packaged targets/chips.toml (read once)."""
    if path is None:
        return _packaged_table()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read the chip table: {exc.strerror}") from exc
    return parse_chip_table(text, str(path))


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
    """The chip on this part: settled by the cloud, then by the evidence, else candidates."""
    pool = [c for c in row.chips if cloud and cloud in c.clouds] or list(row.chips)
    survivors = [c for c in pool if _verdict(c, facts) is not False]
    confirmed = [c for c in survivors if _verdict(c, facts)]
    chosen = pool if len(pool) == 1 else survivors if len(survivors) == 1 else confirmed
    if len(chosen) == 1:
        return Chip(chosen[0].vendor, chosen[0].name, chosen[0].family, row.core, row.llvm_cpu)
    names = tuple(c.name for c in (survivors or pool))
    return Chip(row.vendor, row.core, row.core, row.core, row.llvm_cpu, candidates=names)


def _x86_matches(row: X86Row, facts: CpuFacts, by_name: bool) -> bool:
    if facts.vendor_id is not None and facts.vendor_id != row.vendor_id:
        return False
    if by_name:
        return row.model_name is not None and bool(row.model_name.search(facts.model_name or ""))
    model = facts.model
    if row.cpu_family is None or facts.family != row.cpu_family or model is None:
        return False
    in_model = model in row.models or any(lo <= model <= hi for lo, hi in row.model_ranges)
    return in_model and (not row.steppings or facts.stepping in row.steppings)


def _identify_x86(facts: CpuFacts, table: ChipTable) -> Chip | None:
    """The first row matching the brand string, else the first matching family and model."""
    rows = (r for by_name in (True, False) for r in table.x86 if _x86_matches(r, facts, by_name))
    r = next(rows, None)
    return None if r is None else Chip(r.vendor, r.name, r.family, r.core, r.llvm_cpu)


def _unknown(facts: CpuFacts) -> Chip:
    """known=False, named by what the OS said, or by the MIDR numbers on a silent Arm."""
    impl, part, name = facts.implementer, facts.part, facts.model_name
    if impl is None:
        vendor = X86_VENDORS.get(facts.vendor_id or "", facts.vendor_id or "unknown")
        return Chip(vendor, name or "unknown CPU", "unknown", "unknown", None, known=False)
    vendor = next((n for n, i in LSCPU_ARM_VENDORS.items() if i == impl), "unknown")
    ids = f"implementer {impl:#x}" + ("" if part is None else f", part {part:#x}")
    return Chip(vendor, name or f"Arm CPU ({ids})", "unknown", "unknown", None, known=False)


def identify(facts: CpuFacts, cloud: str | None = None, table: ChipTable | None = None) -> Chip:
    """Decode the CPU; ``cloud`` ("aws", "gcp", ...) settles parts that several clouds share.

    Never raises for an unknown CPU: it comes back with ``known=False`` and its raw name.
    """
    table = table or load_chip_table()
    if facts.arch == "aarch64" or facts.implementer is not None:
        row = _arm_row_for(facts, table)
        return _pick(row, facts, cloud) if row else _unknown(facts)
    return _identify_x86(facts, table) or _unknown(facts)
