"""The runner: one fresh worker process per workload, watched case by case.

The runner owns the per-case timeout and crash isolation. A worker that hangs past the timeout
is killed with its whole process group; one killed by a signal (a segfault, the OOM killer) is
noted; either way that case is recorded as failed with the reason, and a new worker takes up
the workload's remaining cases.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from harness.host.profiles import Profile, cache_dir
from harness.measure.pooling import combine, timing_share
from harness.measure.sample_stats import with_interval
from harness.measure.timing import Timing
from harness.measure.worker import EVENT_PREFIX
from harness.results import RunWriter
from harness.run.plan import Case
from harness.workload import Workload

STARTUP_GRACE_S = 60.0


@dataclass(frozen=True)
class RunOptions:
    """What every worker of a run shares."""

    seed: int = 0
    timing: Timing = field(default_factory=Timing)
    timeout_s: float = 300.0
    threads: int = 1
    cache_dir: Path | None = None
    arch: str = "x86_64"
    python: tuple[str, ...] = ()  # the interpreter workers run on; empty: this one
    processes: int = 1  # fresh workers per case, their rounds pooled (harness.measure.pooling)
    speed_cpu: int | None = None  # the CPU speed cases are pinned to (harness.measure.affinity)
    wait_quiet_s: float = 0.0  # longest wait for a quiet host before each pass (0: none)
    ci_target: float = 0.0  # relative half-width to add processes for (harness.run.adaptive)
    max_processes: int = 0  # most processes a case may reach that way
    ci_budget_s: float | None = None  # seconds the added passes may take (None: as the first)
    replicates: str = "fresh"  # added processes: "fork" from a warm worker, or "fresh"

    @property
    def interpreter(self) -> list[str]:
        return list(self.python or (sys.executable,))

    def to_json(self) -> dict[str, Any]:
        """The options as the manifest's ``options`` record (plain JSON values)."""
        data = asdict(self)
        data["cache_dir"] = str(self.cache_dir) if self.cache_dir else None
        data["python"] = list(self.python)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], arch: str) -> RunOptions:
        """The options a manifest recorded; keys older manifests lack take their defaults.

        ``arch`` is the recorded host's, for manifests written before options carried it.
        """
        return cls(
            seed=int(data["seed"]),
            timing=Timing(**data["timing"]),
            timeout_s=float(data["timeout_s"]),
            threads=int(data["threads"]),
            cache_dir=Path(data["cache_dir"]) if data.get("cache_dir") else None,
            arch=str(data.get("arch") or arch),
            python=tuple(data.get("python") or ()),
            processes=int(data.get("processes", 1)),
            speed_cpu=data.get("speed_cpu"),
            wait_quiet_s=float(data.get("wait_quiet_s") or 0.0),
            ci_target=float(data.get("ci_target") or 0.0),
            max_processes=int(data.get("max_processes") or 0),
            ci_budget_s=data.get("ci_budget_s"),
            replicates=str(data.get("replicates") or "fresh"),
        )


Progress = Callable[[str, Case, dict[str, Any] | None], None]


def _store(writer: RunWriter, case_id: str, record: dict[str, Any], bench: Any) -> None:
    """Record one process's outcome of a case, pooled with the processes before it."""
    combined = combine(writer.case(case_id), writer.bench(case_id), record, bench)
    if combined is not None:
        writer.record(case_id, *combined)


def worker_env(options: RunOptions, profile: Profile | None = None) -> dict[str, str]:
    """The worker's environment: Numba reads threads, CPU target and cache dir at import."""
    env = dict(os.environ)
    env["NUMBA_NUM_THREADS"] = str(options.threads)
    env["PYTHONUNBUFFERED"] = "1"
    if profile is not None:
        env.update(profile.env())
    if options.cache_dir is not None:
        cache = options.cache_dir
        env["NUMBA_CACHE_DIR"] = str(cache_dir(cache, options.arch, profile) if profile else cache)
    return env


def _reader(stream: IO[str], events: queue.Queue[dict[str, Any] | None]) -> None:
    for line in stream:
        if line.startswith(EVENT_PREFIX):
            events.put(json.loads(line[len(EVENT_PREFIX) :]))
    events.put(None)


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _exit_reason(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name
        return f"worker killed by {name}"
    return f"worker exited with status {returncode}"


def _tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


class _Worker:
    """One worker process and the events it has sent."""

    def __init__(self, python: list[str], job: Path, log: Path, env: dict[str, str]) -> None:
        self.log_handle = log.open("a")
        self.proc = subprocess.Popen(
            [*python, "-m", "harness.measure.worker", str(job)],
            stdout=subprocess.PIPE,
            stderr=self.log_handle,
            stdin=subprocess.PIPE,  # one byte a case: the outcome is stored, go on
            text=True,
            env=env,
            start_new_session=True,
        )
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=_reader, args=(self.proc.stdout, self.events), daemon=True).start()

    def next_event(self, timeout: float) -> dict[str, Any] | str | None:
        """The next event, ``None`` at end of output, or ``"timeout"``."""
        try:
            return self.events.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return "timeout"

    def go_on(self) -> None:
        """Let the worker start its next case, now that this one's outcome is stored."""
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):  # a worker that has ended needs no word
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()

    def close(self) -> None:
        _kill(self.proc)
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self.log_handle.close()


def first_rounds(writer: RunWriter, case_id: str) -> int | None:
    """How many rounds the case's first process timed, once one has (None before that)."""
    bench = writer.bench(case_id)
    if writer.case(case_id).get("status") != "ok" or bench is None:
        return None
    return int(bench["extra_info"].get("process_rounds", [len(bench["stats"]["data"])])[0])


def _job(
    workload: Workload, cases: Sequence[Case], options: RunOptions, writer: RunWriter, fork: bool
) -> dict[str, Any]:
    """The worker's job file: every process after a case's first times as many rounds; with
    ``fork`` each case (a case may repeat) runs in a child forked from the warm worker; ``ack``:
    after each case the worker waits for the runner to have stored it (``_Worker.go_on``)."""
    timing = timing_share(asdict(options.timing), options.processes)
    return {
        "ref": workload.module,
        "seed": options.seed,
        "timing": timing,
        "speed_cpu": options.speed_cpu,
        "fork": fork,
        "cases": [
            {**asdict(c), "id": c.id, "rounds": first_rounds(writer, c.id), "ack": True}
            for c in cases
        ],
    }


def run_workload(
    workload: Workload,
    profile: Profile,
    cases: Sequence[Case],
    options: RunOptions,
    writer: RunWriter,
    progress: Progress,
    fork: bool = False,
) -> None:
    """Run one workload's cases under one profile, with a new worker after a crash or hang.

    With ``fork`` the cases (which may repeat: one entry per process) run in children forked
    from one warm worker (harness.measure.worker), interleaved as listed.
    """
    pending = list(cases)
    logs = writer.run_dir / "logs"
    logs.mkdir(exist_ok=True)
    stem = f"{workload.name}.{profile.name}"
    while pending:
        job_path = logs / f"{stem}.job.json"
        job_path.write_text(json.dumps(_job(workload, pending, options, writer, fork)))
        env = worker_env(options, profile)
        worker = _Worker(options.interpreter, job_path, logs / f"{stem}.log", env)
        try:
            pending = _drive(worker, pending, options, writer, progress)
        finally:
            worker.close()


def _drive(
    worker: _Worker,
    pending: list[Case],
    options: RunOptions,
    writer: RunWriter,
    progress: Progress,
) -> list[Case]:
    """Follow one worker; return the cases still to run when it stops early."""
    by_id = {c.id: c for c in pending}
    current: Case | None = None
    deadline = time.monotonic() + options.timeout_s + STARTUP_GRACE_S
    while True:
        event = worker.next_event(deadline - time.monotonic())
        if event == "timeout" or event is None:
            break
        assert isinstance(event, dict)
        case = by_id[event["case"]]
        if event["event"] == "start":
            current, deadline = case, time.monotonic() + options.timeout_s
            progress("start", case, None)
        else:  # the worker timed the case and read the host's load around it
            record, bench = event["record"], event.get("benchmark")
            if record.get("status") == "ok" and bench:
                record["stats"] = with_interval(record["stats"], bench["stats"]["data"])
            _store(writer, case.id, record, bench)
            progress("done", case, writer.case(case.id))
            worker.go_on()
            pending = pending[pending.index(case) + 1 :]
            current = None
            deadline = time.monotonic() + options.timeout_s + STARTUP_GRACE_S
    if not pending:
        return []
    if event == "timeout":
        worker.close()
        reason = f"timed out after {options.timeout_s:g} s"
    else:
        worker.proc.wait()
        reason = _exit_reason(worker.proc.returncode)
    failed = current or pending[0]
    tail = _tail(Path(worker.log_handle.name))
    error = f"{reason}" + (f" ({tail})" if tail and current is None else "")
    _store(writer, failed.id, {"status": "failed", "error": error}, None)
    progress("done", failed, writer.case(failed.id))
    return pending[pending.index(failed) + 1 :]
