"""Was the host quiet while a case ran? CPU steal and competing load, sampled around each case.

A number measured while the hypervisor stole cycles, or while another process shared the
cores, is not the machine's number. Each case records both, and a case over the limits is
flagged noisy in its result and in the summary, never silently averaged in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psutil

STEAL_LIMIT = 0.02  # of all vCPU time during the case
OTHER_LOAD_LIMIT = 0.10  # CPU time of other processes, as a fraction of all vCPU time


@dataclass(frozen=True)
class Snapshot:
    """CPU counters at the start of a case."""

    wall: float
    busy: float
    steal: float
    own: float
    pid: int


def _busy(times: Any) -> float:
    idle = times.idle + getattr(times, "iowait", 0.0)
    steal = getattr(times, "steal", 0.0)
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return float(sum(times) - idle - steal - guest)  # guest time is already counted in user


def _own_cpu(pid: int) -> float:
    """CPU seconds of the worker and its children (all their threads)."""
    try:
        proc = psutil.Process(pid)
        total = sum(proc.cpu_times()[:2])
        for child in proc.children(recursive=True):
            total += sum(child.cpu_times()[:2])
        return float(total)
    except psutil.Error:
        return 0.0


def snapshot(pid: int) -> Snapshot:
    times = psutil.cpu_times()
    return Snapshot(
        time.monotonic(), _busy(times), getattr(times, "steal", 0.0), _own_cpu(pid), pid
    )


def measure(start: Snapshot) -> dict[str, float | bool]:
    """Steal and other processes' load since ``start``, as fractions of all vCPU time."""
    end = snapshot(start.pid)
    capacity = max(end.wall - start.wall, 1e-9) * (psutil.cpu_count() or 1)
    own = max(end.own - start.own, 0.0)
    other = max(end.busy - start.busy - own, 0.0) / capacity
    steal = max(end.steal - start.steal, 0.0) / capacity
    return {
        "steal": round(steal, 4),
        "other_load": round(min(other, 1.0), 4),
        "noisy": steal > STEAL_LIMIT or other > OTHER_LOAD_LIMIT,
    }
