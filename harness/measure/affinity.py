"""Which CPU single-thread (speed) cases run on: one fixed CPU, so processes are alike.

A speed case left to the scheduler lands on whichever vCPU is free and may move between them,
and vCPUs are not alike on a cloud VM: on this project's 2-vCPU machine, ten processes of tiny
bootstrap_eval once measured 290-307 us pinned to CPU 0 and 295-366 us pinned to CPU 1. Pinning
every speed case to the same CPU removes that source of difference between processes (it does
not remove all: later, pinned to CPU 0, processes still fell into two groups 15% apart while
the host was busy). As pyperf does, a CPU isolated from the scheduler (``isolcpus``) is
preferred; otherwise the first CPU the harness may use.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import UserError

ISOLATED = Path("/sys/devices/system/cpu/isolated")


def _parse_list(text: str) -> set[int]:
    """A kernel CPU list such as ``0-3,8``."""
    cpus: set[int] = set()
    for part in filter(None, text.strip().split(",")):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def isolated_cpus(path: Path | None = None) -> set[int]:
    try:
        return _parse_list((path or ISOLATED).read_text())
    except (OSError, ValueError):
        return set()


def choose(spec: str | None, usable: set[int] | None = None) -> int | None:
    """The CPU for speed cases: ``auto`` (isolated, else first usable), a number, or ``none``."""
    usable = usable if usable is not None else set(os.sched_getaffinity(0))
    spec = (spec or "auto").strip().lower()
    if spec == "none":
        return None
    if spec == "auto":
        return min(isolated_cpus() & usable or usable)
    if not spec.isdigit() or int(spec) not in usable:
        raise UserError(f"--affinity {spec!r}: not a CPU this process may use {sorted(usable)}")
    return int(spec)


def pin(cpu: int | None, everything: set[int]) -> None:
    """Run the calling thread on ``cpu``, or on ``everything`` again when ``cpu`` is None."""
    os.sched_setaffinity(0, {cpu} if cpu is not None else everything)
