"""Cases: the cross product of workloads, sizes, modes and thread counts a run measures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.errors import UserError
from harness.workload import MODES, SIZES, Workload


@dataclass(frozen=True)
class Case:
    """One measurement: a workload at a size, in a mode, with a thread count."""

    workload: str
    size: str
    n: int
    mode: str
    threads: int
    profile: str = "native"

    @property
    def id(self) -> str:
        return f"{self.workload}/{self.size}/{self.mode}/t{self.threads}/{self.profile}"


def parse_choice(value: str, allowed: Sequence[str], what: str) -> list[str]:
    """A comma list of names, each checked against ``allowed``; ``both``/``all`` mean every one."""
    if value in ("both", "all"):
        return list(allowed)
    chosen: list[str] = []
    for item in (v.strip() for v in value.split(",")):
        if item not in allowed:
            raise UserError(f"unknown {what} {item!r} (choose from {', '.join(allowed)})")
        if item not in chosen:
            chosen.append(item)
    return chosen


def parse_sizes(value: str) -> list[str]:
    return parse_choice(value, SIZES, "size")


def parse_modes(value: str) -> list[str]:
    return parse_choice(value, MODES, "mode")


def parse_threads(value: str | None, usable: int) -> int:
    """Thread count for the rate form: a positive integer, or ``all`` for every usable CPU."""
    if value in (None, "", "all"):
        return usable
    try:
        threads = int(value)
    except ValueError:
        raise UserError(f"bad thread count {value!r} (a positive integer or 'all')") from None
    if threads < 1:
        raise UserError(f"bad thread count {value!r} (a positive integer or 'all')")
    return threads


def plan(
    workloads: Iterable[Workload],
    sizes: Sequence[str],
    modes: Sequence[str],
    threads: int,
    profiles: Sequence[str] = ("native",),
) -> list[Case]:
    """Every case to run, grouped by workload and profile (one worker process for each)."""
    return [
        Case(w.name, size, w.sizes[size], mode, 1 if mode == "speed" else threads, profile)
        for w in workloads
        for profile in profiles
        for size in sizes
        for mode in modes
    ]
