"""Which catalog row this host is: from DMI on AWS, inferred from CPU and shape elsewhere.

Matching never guesses: a host that fits no row, or several, comes back unpriced with the
reason (never an error); a row the user names wins, with any disagreement shown as a warning.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from harness.errors import UserError
from harness.pricing.catalog import Target, series

# MemTotal is the shape's memory less what firmware and the kernel keep: a few percent below.
MEMORY_FIT = (0.85, 1.01)


@dataclass(frozen=True)
class Match:
    """This host in the catalog (``target`` None: unpriced, ``reason`` says why). ``how``: "dmi",
    "env" (a GitHub-hosted runner, from its variables), "override" (user-named), "inferred"
    (cloud, CPU and shape fit one row), "custom" (the host's own shape at the user's price) or
    "unknown"; ``candidates``: types the evidence cannot choose between; ``vcpus``/``cores``:
    the host's own counts."""

    target: Target | None
    how: str
    reason: str
    candidates: tuple[str, ...] = ()
    vcpus: int | None = None
    cores: int | None = None


def same_chip(target: Target, cpu: Mapping[str, Any]) -> bool:
    """Whether a host CPU (env["cpu"]) can be this row's chip: same family and LLVM core, or
    named among the candidates when the host's evidence could not choose."""
    if target.chip in (cpu.get("candidates") or ()):
        return True
    return cpu.get("family") == target.family and cpu.get("expected_llvm_cpu") == target.llvm_cpu


def _fitting_series(rows: list[Target], vcpus: int, gib: float) -> list[str]:
    """Series whose memory at this vCPU count fits MemTotal (GiB): being a little below the
    shape's, the smallest shape at or above it wins (C4's 3.75 GiB/vCPU over N4's 4); ties all."""
    nominal = {series(t): t.memory_gib / t.vcpus * vcpus for t in rows}
    plausible = {s: m for s, m in nominal.items() if MEMORY_FIT[0] <= gib / m <= MEMORY_FIT[1]}
    best = min(plausible.values(), default=0.0)
    return sorted(s for s, m in plausible.items() if m <= best * 1.005)


def _infer(env: Mapping[str, Any], catalog: Mapping[str, Target], cloud: str) -> Match:
    """Google Cloud or Azure: the type from the CPU, the vCPU count and the memory per vCPU."""
    cpu, vcpus = env.get("cpu") or {}, (env.get("topology") or {}).get("vcpus")
    gib = float(env.get("memory_bytes") or 0) / 2**30
    maybe = f" (one of {', '.join(cpu['candidates'])})" if cpu.get("candidates") else ""
    host = f"{cloud} host with {cpu.get('name')}{maybe}, {vcpus or '?'} vCPUs, {gib:.1f} GiB"
    rows = [t for t in catalog.values() if t.cloud == cloud and same_chip(t, cpu)]
    if not rows:
        return Match(None, "unknown", f"{host}: no {cloud} type in the catalog has this CPU")
    if not isinstance(vcpus, int) or vcpus < 1 or gib <= 0:
        return Match(None, "unknown", f"{host}: vCPU count or memory unknown, cannot infer")
    names = [s.format(n=vcpus) for s in _fitting_series(rows, vcpus, gib)]
    if not names:
        shapes = ", ".join(sorted({series(t) for t in rows}))
        return Match(None, "unknown", f"{host}: fits no catalog shape of this CPU ({shapes})")
    if len(names) > 1:
        why = f"{host}: fits {' or '.join(names)} (same CPU and memory); name the type"
        return Match(None, "unknown", why, tuple(names))
    if names[0] not in catalog:
        why = f"{host}: looks like {names[0]}, which the catalog does not price"
        return Match(None, "unknown", why, tuple(names))
    return Match(catalog[names[0]], "inferred", f"{host}: fits {names[0]}")


def _runner(env: Mapping[str, Any], target: Target) -> Match:
    """A GitHub-hosted runner: GitHub bills the SKU of its shape whatever CPU it assigns (the
    recorded x64 runners had EPYC 7763, EPYC 9V45, Xeon 8573C and Xeon 6973P-C), so the row's
    price stands and its CPU is this runner's own."""
    cpu = env.get("cpu") or {}
    why = f"GitHub-hosted runner {target.type} (GITHUB_ACTIONS)"
    if not cpu.get("known") or same_chip(target, cpu):
        return Match(target, "env", why)
    own = replace(
        target,
        chip=str(cpu.get("name")),
        family=str(cpu.get("family")),
        core=str(cpu.get("core")),
        llvm_cpu=str(cpu.get("expected_llvm_cpu") or ""),
    )
    return Match(own, "env", f"{why}; GitHub assigned it a {own.chip}, priced as the SKU")


def _identify(env: Mapping[str, Any], catalog: Mapping[str, Target]) -> Match:
    cloud = env.get("cloud") or {}
    name, itype = cloud.get("cloud"), cloud.get("instance_type")
    if name == "aws" and isinstance(itype, str) and itype in catalog:
        return Match(catalog[itype], "dmi", f"AWS instance type {itype} (DMI product_name)")
    if name == "aws":
        why = f"type {itype} is not in the catalog" if itype else "DMI does not name the type"
        return Match(None, "unknown", f"AWS host: {why}")
    if name in ("gcp", "azure"):
        return _infer(env, catalog, name)
    if name == "github" and isinstance(itype, str) and itype in catalog:
        return _runner(env, catalog[itype])
    if name == "github":
        return Match(None, "unknown", f"GitHub-hosted runner: {itype} is not in the catalog")
    why = f"{name} hosts are not in the catalog" if name else "no cloud found in DMI"
    return Match(None, "unknown", why)


def _warnings(env: Mapping[str, Any], target: Target) -> str:
    """Disagreements between the host and the row it was told it is: shown, never hidden."""
    cpu, vcpus = env.get("cpu") or {}, (env.get("topology") or {}).get("vcpus")
    found = []
    if cpu.get("known") and not same_chip(target, cpu):
        found.append(f"this host's CPU ({cpu.get('name')}) is not {target.type}'s {target.chip}")
    if isinstance(vcpus, int) and vcpus != target.vcpus:
        found.append(f"this host has {vcpus} vCPUs, {target.type} has {target.vcpus}")
    return "".join(f"; warning: {w}" for w in found)


def _host_target(env: Mapping[str, Any], name: str | None) -> Target:
    """A row for a host the catalog lacks, from its own facts (priced by the caller)."""
    cpu, topo, cloud = env.get("cpu") or {}, env.get("topology") or {}, env.get("cloud") or {}
    vcpus, per_core = int(topo.get("vcpus") or 1), int(topo.get("threads_per_core") or 1)
    return Target(
        cloud.get("cloud") or "unknown", name or cloud.get("instance_type") or "custom",
        str(env.get("arch") or "unknown"), cpu.get("name") or "unknown",
        cpu.get("family") or "unknown", cpu.get("core") or "unknown",
        cpu.get("expected_llvm_cpu") or "", vcpus,
        int(topo.get("physical_cores") or max(vcpus // per_core, 1)), per_core,
        float(env.get("memory_bytes") or 0) / 2**30, math.nan, "", "", "",
        note="not in the catalog: shape read from this host",
    )  # fmt: skip


def check_named_type(env: Mapping[str, Any], target: Target) -> None:
    """Refuse a named instance type this host cannot be: another architecture, more vCPUs.

    A chip or vendor that differs only warns (``_warnings``): clouds relabel CPUs, and a
    masked brand string is common on KVM guests. An arch or vCPU count cannot be wrong that way.
    """
    arch, vcpus = env.get("arch"), (env.get("topology") or {}).get("vcpus")
    if arch and target.arch != arch:
        raise UserError(f"--instance-type {target.type}: an {target.arch} instance, but this "
                        f"host is {arch}")  # fmt: skip
    if isinstance(vcpus, int) and target.vcpus > vcpus:
        raise UserError(f"--instance-type {target.type}: {target.vcpus} vCPUs, but this host "
                        f"has {vcpus}")  # fmt: skip


def match_host(
    env: Mapping[str, Any],
    catalog: Mapping[str, Target],
    instance_type: str | None = None,
    price: float | None = None,
) -> Match:
    """This host (an ``environment.capture()`` dict) as a catalog row, or why it is unpriced.

    ``instance_type`` (or a type the capture was given) wins over DMI and inference; a type the
    catalog lacks is a UserError unless ``price`` (USD per hour) is given. ``price`` replaces
    the matched row's price (kind "custom", dated today); with no row, the host is priced as
    itself (how "custom": its own vCPUs, cores and memory under the given or DMI type name).
    """
    if price is not None and not (math.isfinite(price) and price > 0):
        raise UserError(f"price {price!r}: must be a positive number of USD per hour")
    cloud, topo = env.get("cloud") or {}, env.get("topology") or {}
    told = cloud.get("instance_type") if cloud.get("source") == "override" else None
    name = instance_type or told
    if name and name not in catalog and price is None:
        raise UserError(f"instance type {name!r} is not in the catalog; check the name "
                        "(see targets/catalog.toml) or give its price per hour")  # fmt: skip
    if name:
        match = Match(catalog.get(name), "override", f"instance type {name} named by the user")
    else:
        match = _identify(env, catalog)
    if match.target and match.how in ("dmi", "env", "override"):
        match = replace(match, reason=match.reason + _warnings(env, match.target))
    if price is not None:
        target = replace(
            match.target or _host_target(env, name), price_per_hour=price, price_kind="custom",
            price_date=dt.date.today().isoformat(), price_source="given by the user (--price)",
        )  # fmt: skip
        how = match.how if match.target else "custom"
        match = replace(match, target=target, how=how, reason=f"{match.reason}; ${price:g}/h given")
    return replace(match, vcpus=topo.get("vcpus"), cores=topo.get("physical_cores"))
