"""Cases: the cross product of workloads, sizes, modes and thread counts a run measures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.errors import UserError
from harness.keys import CaseKey
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

    @classmethod
    def of(cls, key: CaseKey, n: int) -> Case:
        return cls(key.workload, key.size, n, key.mode, key.threads, key.profile)

    @property
    def key(self) -> CaseKey:
        return CaseKey(self.workload, self.size, self.mode, self.threads, self.profile)

    @property
    def id(self) -> str:
        return self.key.id


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


def parse_threads(value: str | None, usable: int) -> list[int]:
    """Thread counts for the rate form: a comma list of positive integers and ``all``.

    ``all`` is every usable CPU; a list such as ``1,2,4,all`` sweeps the counts, which shows
    how throughput scales per vCPU and per core (and where SMT stops helping).
    """
    counts: list[int] = []
    for item in (v.strip() for v in (value or "all").split(",")):
        if item == "all":
            counts.append(usable)
            continue
        try:
            threads = int(item)
        except ValueError:
            threads = 0
        if threads < 1:
            raise UserError(f"bad thread count {item!r} (positive integers or 'all')")
        if threads > usable:
            raise UserError(
                f"--threads {item}: this host has {usable} usable CPU(s); more threads than "
                "CPUs would measure oversubscription, not the instance"
            )
        counts.append(threads)
    return sorted(set(counts))


def plan(
    workloads: Iterable[Workload],
    sizes: Sequence[str],
    modes: Sequence[str],
    threads: Sequence[int],
    profiles: Sequence[str] = ("native",),
) -> list[Case]:
    """Every case to run, grouped by workload and profile (one worker process for each)."""
    return [
        Case(w.name, size, w.sizes[size], mode, count, profile)
        for w in workloads
        for profile in profiles
        for size in sizes
        for mode in modes
        for count in ([1] if mode == "speed" else threads)
    ]
