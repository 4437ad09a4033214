"""The instance catalog (targets/catalog.toml), user price files, and matching a host to a row.

A price-performance number is only as good as the price and shape behind it: every row is
checked on load, and a bad one is refused naming file, row and key. Matching never guesses; a
host that fits no row, or several, comes back unpriced with the reason (never an error).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import Any, NoReturn

from harness.errors import UserError

CLOUDS = ("aws", "gcp", "azure", "github")
ARCHES = ("aarch64", "x86_64")
ARCH_ALIASES = {"aarch64": "aarch64", "arm64": "aarch64", "x86_64": "x86_64", "amd64": "x86_64"}
PRICE_KINDS = ("on-demand", "spot", "reserved", "savings-plan", "negotiated", "custom")


@dataclass(frozen=True)
class Target:
    """One instance type: its shape, its CPU, and its price with where the price came from."""

    cloud: str
    type: str
    arch: str
    chip: str
    family: str
    core: str
    llvm_cpu: str
    vcpus: int
    cores: int
    threads_per_core: int
    memory_gib: float
    price_per_hour: float
    region: str
    price_date: str
    price_source: str
    price_kind: str = "on-demand"
    note: str = ""


@dataclass(frozen=True)
class PriceOverride:
    """A user's own price for one catalog type (negotiated, reserved, spot...)."""

    type: str
    price_per_hour: float
    kind: str
    region: str | None = None
    date: str | None = None
    source: str | None = None
    file: str = ""


Fail = Callable[[str | None, str], NoReturn]
_ROW_KEYS = {
    "cloud": str, "type": str, "arch": str, "chip": str, "family": str, "core": str,
    "llvm_cpu": str, "vcpus": int, "cores": int, "threads_per_core": int, "memory_gib": float,
    "price_per_hour": float, "region": str, "price_date": dt.date, "price_source": str,
}  # fmt: skip
_ROW_OPTIONAL: dict[str, type] = {"price_kind": str, "note": str}
_PRICE_KEYS = {"type": str, "price_per_hour": float, "kind": str}
_PRICE_OPTIONAL = {"region": str, "date": dt.date, "source": str}
_ROW_CHOICES = (("cloud", CLOUDS), ("arch", ARCHES), ("price_kind", PRICE_KINDS))
_KIND_NAMES = {str: "text", int: "integer", float: "number", dt.date: "date (YYYY-MM-DD)"}


def _fits(value: Any, kind: type) -> bool:
    if kind is dt.date and isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return False
    bad = isinstance(value, bool | dt.datetime)  # True is an int; a datetime is a date
    ok = isinstance(value, int | float if kind is float else kind) and not bad
    return ok and (kind is not str or bool(str(value).strip()))


def _typed(
    raw: Any, need: Mapping[str, type], may: Mapping[str, type], fail: Fail, choices: Any
) -> dict[str, Any]:
    """The row as a dict: required keys present, no unknown key, each of its kind, ``choices``
    keys with known values, prices and memory positive and finite."""
    if not isinstance(raw, dict):
        fail(None, "is not a table")
    for key in raw:
        if key not in need and key not in may:
            fail(key, f"unknown key (known: {', '.join([*need, *may])})")
    for key, kind in {**need, **may}.items():
        if key not in raw and key in need:
            fail(key, "missing")
        if key in raw and not _fits(raw[key], kind):
            fail(key, f"must be a {_KIND_NAMES[kind]}, not {raw[key]!r}")
    for key, known in choices:
        if key in raw and raw[key] not in known:
            fail(key, f"unknown value {raw[key]!r} (known: {', '.join(known)})")
    for key in ("memory_gib", "price_per_hour"):
        if key in raw and not _positive(raw[key]):
            fail(key, f"must be positive and finite, not {raw[key]!r}")
    return {k: str(v) if isinstance(v, dt.date) else v for k, v in raw.items()}


def _positive(value: float) -> bool:
    """Positive and finite as a float (an integer too large for a float is not)."""
    try:
        return math.isfinite(float(value)) and value > 0
    except OverflowError:
        return False


def _failer(file: str, raw: Any, index: int, noun: str) -> Fail:
    """A function that refuses this row, naming the file, the row (its type) and the key."""
    name = raw.get("type") if isinstance(raw, dict) else None
    what = f"{noun} {name!r}" if isinstance(name, str) else f"row {index + 1}"

    def fail(key: str | None, problem: str) -> NoReturn:
        raise UserError(f"{file}: {what}" + (f": key {key!r}" if key else "") + f": {problem}")

    return fail


def _target(row: dict[str, Any], fail: Fail, check_llvm: bool) -> Target:
    """A typed row checked further: counts at least 1 and consistent, an LLVM-known CPU."""
    for key in ("vcpus", "cores", "threads_per_core"):
        if row[key] < 1:
            fail(key, f"must be at least 1, not {row[key]}")
    if row["vcpus"] != row["cores"] * row["threads_per_core"]:
        fail("vcpus", f"{row['vcpus']} is not cores x threads_per_core "
             f"({row['cores']} x {row['threads_per_core']})")  # fmt: skip
    if check_llvm and not _llvm_knows(row["arch"], row["llvm_cpu"]):
        fail("llvm_cpu", f"LLVM does not know {row['llvm_cpu']!r} as an {row['arch']} CPU")
    return Target(**row | {k: float(row[k]) for k in ("memory_gib", "price_per_hour")})


def _llvm_knows(arch: str, cpu: str) -> bool:
    from harness.host.profiles import llvm_cpu_known  # starts LLVM: only for user catalogs

    return llvm_cpu_known(arch, cpu)


def _toml_rows(path: Path | str, table: str, text: str | None = None) -> list[Any]:
    """The ``[[table]]`` rows of a TOML file; anything else at the top level is refused."""
    try:
        data = tomllib.loads(text if text is not None else Path(path).read_text("utf-8"))
    except OSError as err:
        raise UserError(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text (at byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path}: not valid TOML: {err}") from None
    extra, rows = sorted(set(data) - {table}), data.get(table)
    if extra:
        raise UserError(f"{path}: unknown top-level key {extra[0]!r} (expected [[{table}]] rows)")
    if not isinstance(rows, list) or not rows:
        raise UserError(f"{path}: no [[{table}]] rows")
    return rows


def parse_catalog(text: str | None, file: str, check_llvm: bool = True) -> dict[str, Target]:
    """Type -> Target from catalog TOML (read from ``file`` when ``text`` is None), checked.

    ``check_llvm`` asks LLVM whether each row's ``llvm_cpu`` is a CPU of its architecture; the
    packaged catalog skips it at run time (pricing a run must not start LLVM) because the test
    suite checks every packaged row that way.
    """
    catalog: dict[str, Target] = {}
    for index, raw in enumerate(_toml_rows(file, "target", text)):
        fail = _failer(file, raw, index, "target")
        row = _typed(raw, _ROW_KEYS, _ROW_OPTIONAL, fail, _ROW_CHOICES)
        target = _target(row, fail, check_llvm)
        if target.type in catalog:
            fail("type", "duplicate: this type has another row")
        catalog[target.type] = target
    return catalog


@functools.cache
def _packaged() -> tuple[Target, ...]:
    resource = files("targets") / "catalog.toml"
    text = resource.read_text(encoding="utf-8")
    return tuple(parse_catalog(text, str(resource), check_llvm=False).values())


def load_catalog(path: Path | None = None) -> dict[str, Target]:
    """Type -> Target from ``path``, or from the packaged targets/catalog.toml (checked once)."""
    return {t.type: t for t in _packaged()} if path is None else parse_catalog(None, str(path))


def load_prices(path: Path) -> dict[str, PriceOverride]:
    """A user's price file: ``[[price]]`` rows of type, price_per_hour, kind (on-demand, spot,
    reserved, savings-plan, negotiated, custom), optional region, date and source."""
    found: dict[str, PriceOverride] = {}
    for index, raw in enumerate(_toml_rows(path, "price")):
        fail = _failer(str(path), raw, index, "price for")
        row = _typed(raw, _PRICE_KEYS, _PRICE_OPTIONAL, fail, [("kind", PRICE_KINDS)])
        if row["type"] in found:
            fail("type", "duplicate: this type is priced twice")
        row["price_per_hour"] = float(row["price_per_hour"])
        found[row["type"]] = PriceOverride(**row, file=str(path))
    return found


def apply_prices(
    catalog: Mapping[str, Target], overrides: Mapping[str, PriceOverride]
) -> dict[str, Target]:
    """The catalog with the user's prices over it (a type it lacks is refused). An unset region
    keeps the catalog's, an unset date is "" (undated), an unset source names the file."""
    priced = dict(catalog)
    for name, o in overrides.items():
        if name not in catalog:
            raise UserError(f"{o.file}: price for {name!r}: key 'type': not in the catalog")
        priced[name] = replace(
            catalog[name], price_per_hour=o.price_per_hour, price_kind=o.kind,
            region=o.region or catalog[name].region, price_date=o.date or "",
            price_source=o.source or f"price file {Path(o.file).name}",
        )  # fmt: skip
    return priced


def series(target: Target) -> str:
    """The type with its size as a placeholder: c4a-standard-{n}, Standard_D{n}ps_v6."""
    pattern = {"gcp": r"(.+-)(\d+)()", "azure": r"(Standard_[A-Za-z]+?)(\d+)(.*)"}
    found = re.fullmatch(pattern.get(target.cloud, r"([^.]+\.)(.+)()"), target.type)
    return f"{found[1]}{{n}}{found[3]}" if found else target.type


def listing(
    catalog: Mapping[str, Target], arch: str | None = None, cloud: str | None = None
) -> list[Target]:
    """Catalog rows, filtered, ordered by cloud, series (family and shape), then size."""
    for value, known, what in ((arch, ARCH_ALIASES, "architecture"), (cloud, CLOUDS, "cloud")):
        if value is not None and value.lower() not in known:
            raise UserError(f"unknown {what} {value!r} (choose from {', '.join(known)})")
    want = ARCH_ALIASES[arch.lower()] if arch else None
    rows = [t for t in catalog.values() if want in (None, t.arch)]
    rows = [t for t in rows if cloud is None or t.cloud == cloud.lower()]
    return sorted(rows, key=lambda t: (CLOUDS.index(t.cloud), series(t), t.vcpus, t.type))
