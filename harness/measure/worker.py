"""The worker process: measures the cases of one workload and reports each as it ends.

It runs as ``python -m harness.measure.worker JOB.json`` in a fresh interpreter, so JIT state
and heap never leak between workloads. Events go to the original stdout as JSON lines;
everything else a kernel or library prints is moved to stderr, which the runner keeps in the
run's log. With ``fork`` in the job (processes added for ``--ci-target``), each case runs in a
child forked from this warm worker instead (``_fork_case``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from harness.keys import CaseKey
from harness.measure import host_load
from harness.measure.affinity import pin
from harness.measure.placement import place
from harness.measure.timing import Timing, measure
from harness.workload import Workload, import_ref

EVENT_PREFIX = "@@harness "
# Test-only: "workload=fraction" makes that workload's inputs larger by the fraction while its
# declared work stays the same: a real slowdown, for testing regression detection end to end.
EXTRA_WORK_VAR = "HARNESS_TEST_EXTRA_WORK"


def _event_channel() -> TextIO:
    """Keep stdout for events only: duplicate it, then point fd 1 at stderr."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


def _emit(channel: TextIO, **event: Any) -> None:
    channel.write(EVENT_PREFIX + json.dumps(event, default=float) + "\n")
    channel.flush()


def _extra_work(name: str) -> float:
    target, _, fraction = os.environ.get(EXTRA_WORK_VAR, "").partition("=")
    return float(fraction) if target == name and fraction else 0.0


def _inputs(workload: Workload, n: int, seed: int) -> tuple[Any, ...]:
    """The case's inputs from the seed, placed at fixed page offsets (harness.measure.placement)."""
    n_inputs = round(n * (1.0 + _extra_work(workload.name)))
    return place(workload.make_inputs(n_inputs, np.random.default_rng(seed)))


def _run_case(
    workload: Workload,
    case: dict[str, Any],
    seed: int,
    timing: Timing,
    cache: dict[int, Any],
    expected: Any = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    n = int(case["n"])
    if n not in cache:
        cache.clear()  # one size's inputs at a time: large sizes are large
        inputs = _inputs(workload, n, seed)
        cache[n] = (inputs, workload.reference(*inputs) if expected is None else expected)
    inputs, expected = cache[n]
    rounds = case.get("rounds")  # set for every process of a case after its first
    own = timing.exactly(int(rounds)) if rounds else timing
    return measure(workload, CaseKey.of(case), n, inputs, own, expected)


def _fork_case(
    channel: TextIO,
    workload: Workload,
    case: dict[str, Any],
    seed: int,
    timing: Timing,
    warm: dict[Any, Any],
) -> None:
    """One process of a case in a child forked from this worker (job ``fork``).

    This process compiles the speed kernel (or loads it from the cache) and computes the
    reference once per size; each child then makes its inputs afresh, in new physical pages,
    and times the kernel it inherited. A rate kernel is loaded in the child: calling it here
    would start its thread pool, which a fork does not survive (GNU OpenMP, TBB). A child
    killed by a signal takes this worker down with the same signal, so the runner records the
    case as it would for a fresh worker.
    """
    n, mode = int(case["n"]), str(case["mode"])
    # warm: the size's reference under n, and (n, "speed") once the speed kernel has run here
    warming = n not in warm or (mode == "speed" and (n, mode) not in warm)
    if warming:
        try:
            inputs = _inputs(workload, n, seed)
            if n not in warm:
                warm.clear()
                warm[n] = workload.reference(*inputs)
            if mode == "speed":  # a parallel kernel's thread pool must not be forked
                workload.kernel("speed")(*inputs)
                warm[n, mode] = True
        except Exception:  # the case fails as it would unforked, with its error recorded
            warm.clear()
            _one_case(channel, workload, case, seed, timing, {})
            return
        del inputs
    pid = os.fork()
    if pid == 0:  # the child: fresh inputs, the parent's compiled kernel and reference
        try:
            _one_case(channel, workload, case, seed, timing, {}, warm[n])
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    if os.waitstatus_to_exitcode(status):
        sys.exit(os.waitstatus_to_exitcode(status))


def _one_case(
    channel: TextIO,
    workload: Workload,
    case: dict[str, Any],
    seed: int,
    timing: Timing,
    inputs: dict[int, Any],
    expected: Any = None,
) -> None:
    """Run one case in this process and report its start and its outcome.

    The case's wall time and the host's load are read here, around the case itself: read by
    the runner when it handles the events, a short case would be timed over the milliseconds
    in which the runner was still storing the case before it. With ``ack`` in the job the
    process then waits for the runner to have stored the outcome, so the runner's own work
    never overlaps the next case's timing.
    """
    _emit(channel, event="start", case=case["id"])
    before = host_load.snapshot(os.getpid())
    try:
        record, bench = _run_case(workload, case, seed, timing, inputs, expected)
    except Exception as exc:  # a failing case is a result, not the end of the run
        traceback.print_exc()
        record, bench = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}, None
    record = {**record, "elapsed_s": time.monotonic() - before.wall,
              "host_load": host_load.measure(before)}  # fmt: skip
    _emit(channel, event="done", case=case["id"], record=record, benchmark=bench)
    if case.get("ack"):
        os.read(0, 1)  # one byte a case; end of input (the runner gone) reads as b""


def _warm_numba() -> None:
    """Pay Numba's one-time start-up (type registry, LLVM) before any kernel's compile is timed."""
    import numba

    numba.njit(lambda x: x + 1)(1)


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[1]).read_text())
    channel = _event_channel()
    workload = import_ref(job["ref"])
    timing = Timing(**job["timing"])
    _warm_numba()
    inputs: dict[int, Any] = {}
    everything = set(os.sched_getaffinity(0))
    speed_cpu = job.get("speed_cpu")
    seed, warm = int(job["seed"]), dict[Any, Any]()
    for case in job["cases"]:
        # speed cases on one fixed CPU; rate cases on all of them (harness.measure.affinity)
        pin(speed_cpu if case["mode"] == "speed" else None, everything)
        if job.get("fork"):
            _fork_case(channel, workload, case, seed, timing, warm)
        else:
            _one_case(channel, workload, case, seed, timing, inputs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
