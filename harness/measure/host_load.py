"""Was the host quiet while a case ran? CPU steal and competing load, sampled around each case.

A number measured while the hypervisor stole cycles, or while another process shared the
cores, is not the machine's number. Each case records both, and a case over the limits is
flagged noisy in its result and in the summary, never silently averaged in.
"""

from __future__ import annotations

import contextlib
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
    pid: int | None  # whose CPU (with its children's) is not counted as others' load


def _busy(times: Any) -> float:
    idle = times.idle + getattr(times, "iowait", 0.0)
    steal = getattr(times, "steal", 0.0)
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return float(sum(times) - idle - steal - guest)  # guest time is already counted in user


def _own_cpu(pid: int) -> float:
    """CPU seconds of the worker and its children (all their threads), the children it has
    already reaped (a forked replicate that has ended) included. A child that ends while it
    is read is counted once it is reaped; only the worker's own end reads as nothing."""
    try:
        proc = psutil.Process(pid)
        own = proc.cpu_times()
        children = proc.children(recursive=True)
    except psutil.Error:
        return 0.0
    total = own.user + own.system + own.children_user + own.children_system
    for child in children:
        with contextlib.suppress(psutil.Error):
            total += sum(child.cpu_times()[:2])
    return float(total)


def snapshot(pid: int | None) -> Snapshot:
    times = psutil.cpu_times()
    own = _own_cpu(pid) if pid is not None else 0.0
    return Snapshot(time.monotonic(), _busy(times), getattr(times, "steal", 0.0), own, pid)


def measure(start: Snapshot) -> dict[str, float | bool]:
    """Steal and other processes' load since ``start``, as fractions of all vCPU time."""
    end = snapshot(start.pid)  # pid None: every busy second counts
    capacity = max(end.wall - start.wall, 1e-9) * (psutil.cpu_count() or 1)
    own = max(end.own - start.own, 0.0)
    other = max(end.busy - start.busy - own, 0.0) / capacity
    steal = max(end.steal - start.steal, 0.0) / capacity
    return {
        "steal": round(steal, 4),
        "other_load": round(min(other, 1.0), 4),
        "noisy": steal > STEAL_LIMIT or other > OTHER_LOAD_LIMIT,
    }


def wait_quiet(limit_s: float, window_s: float = 1.0) -> tuple[dict[str, float | bool], float]:
    """Wait up to ``limit_s`` for a ``window_s`` in which the host is quiet (steal and other
    processes' load under the limits); returns the last reading and the seconds waited.

    The harness itself sleeps meanwhile and no worker of its runs, so every busy second it
    sees is someone else's.
    """
    started = time.monotonic()
    while True:
        start = snapshot(None)
        time.sleep(window_s)
        reading = measure(start)
        waited = time.monotonic() - started
        if not reading["noisy"] or waited >= limit_s:
            return reading, waited
