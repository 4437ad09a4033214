"""The chip table (targets/chips.toml): which part, model or family is which CPU product.

The table is data, so a new chip is a row, not code. Every row is checked against a spec of
its keys and kinds when it is read, and a bad row names the file, the row and the key.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness.errors import UserError


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
    max_cores_per_socket: int | None = None  # a socket with more cores is another chip


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
    flags: tuple[str, ...] = ()  # all present: the last resort for a masked brand and model


@dataclass(frozen=True)
class ChipTable:
    arm: tuple[ArmRow, ...]
    x86: tuple[X86Row, ...]


# Key -> kind of each table row; a trailing "?" marks an optional key.
_SPECS: dict[str, dict[str, str]] = {
    "top": {"arm": "[table]?", "x86": "[table]?"},
    "arm": {"implementer": "int", "part": "int", "vendor": "str", "core": "str",
            "llvm_cpu": "str", "lscpu_name": "str?", "chip": "[table]?"},
    "chip": {"vendor": "str", "name": "str", "family": "str", "clouds": "[str]?",
             "bogomips": "float?", "flags_present": "[str]?", "flags_absent": "[str]?",
             "bios_model": "str?", "max_cores_per_socket": "int?"},
    "x86": {"vendor_id": "str", "vendor": "str", "name": "str", "family": "str", "core": "str",
            "llvm_cpu": "str", "model_name": "str?", "cpu_family": "int?", "models": "[int]?",
            "model_ranges": "[[int]]?", "steppings": "[int]?", "clouds": "[str]?",
            "flags": "[str]?"},
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
    if not {"model_name", "cpu_family", "flags"} & row.keys():
        raise UserError(f"{where}: missing key 'model_name', 'cpu_family' or 'flags'")
    if any(len(pair) != 2 for pair in row.get("model_ranges", ())):
        raise UserError(f"{where}: key 'model_ranges' must hold [low, high] pairs")
    try:
        if "model_name" in row:
            row["model_name"] = re.compile(row["model_name"], re.IGNORECASE)  # GCP C4: upper
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
