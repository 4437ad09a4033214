"""A run from start to finish: plan the cases, record the host, drive the workers, keep results."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

from harness import __version__
from harness.errors import UserError
from harness.host.profiles import Profile, resolve
from harness.keys import HostKind
from harness.measure import host_load
from harness.measure.roofline import run_probes
from harness.records import PlannedCase
from harness.results import (
    MANIFEST,
    SCHEMA_VERSION,
    Run,
    RunWriter,
    make_run_dir,
    new_run_id,
    validate,
)
from harness.run import adaptive
from harness.run.lines import case_line, match_line, roofline_line
from harness.run.plan import Case
from harness.run.progress import RunProgress
from harness.run.runner import RunOptions, run_workload, worker_env
from harness.schema import RESUMABLE
from harness.untrusted import terminal
from harness.workload import Workload, discover, select


@dataclass(frozen=True)
class RunRequest:
    """Everything the user asked of ``harness run``."""

    workloads: Sequence[Workload]
    cases: Sequence[Case]
    options: RunOptions
    out: Path
    environment: dict[str, Any]
    argv: Sequence[str]
    profiles: Sequence[Profile]
    roofline: bool = True
    workload_paths: Sequence[Path] = ()
    price: float | None = None
    match: Any = None
    done: Mapping[str, int] = field(default_factory=dict)  # case id: processes already kept

    def passes(self, case: Case) -> range:
        """The passes (process numbers) a case still runs in: after those it already has."""
        return range(self.done.get(case.id, 0), self.options.processes)


def _manifest(request: RunRequest, run_id: str, workloads: dict[str, Workload]) -> dict[str, Any]:
    from harness.results import SCHEMA

    def planned(case: Case) -> dict[str, Any]:
        w = workloads[case.workload]
        return PlannedCase(
            case.id, **asdict(case), category=w.category, unit=w.unit, bound=w.bound,
            work=w.work(case.n), bytes=w.bytes(case.n), flops=w.flops(case.n),
        ).to_json()  # fmt: skip

    options = request.options.to_json()
    options["workload_paths"] = [str(p.resolve()) for p in request.workload_paths]
    options["price"] = request.price
    options["roofline"] = request.roofline  # asked for: a run stopped before it measures on resume
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "harness_version": __version__,
        "created": datetime.now(UTC).isoformat(),
        "finished": None,
        "status": "running",
        "argv": list(request.argv),
        "options": options,
        "environment": request.environment,
        "profiles": {
            p.name: {"cpu_name": p.cpu_name, "cpu_features": p.cpu_features}
            for p in request.profiles
        },
        "cases": [planned(c) for c in request.cases],
    }


def _benchmark_context() -> tuple[dict[str, Any], dict[str, Any]]:
    """pytest-benchmark's own machine and commit info, so its tools read our files."""
    from pytest_benchmark.plugin import pytest_benchmark_generate_machine_info
    from pytest_benchmark.utils import get_commit_info

    return pytest_benchmark_generate_machine_info(), get_commit_info()


def resume_request(run: Run, environment: dict[str, Any], argv: Sequence[str]) -> RunRequest:
    """The cases of a run that are missing, failed or short of processes, with its options.

    A case that succeeded in some of its processes keeps them and runs only the rest (a run
    interrupted in pass 2 of 5 resumes with passes 2-5); a failed or unstarted case runs in
    full. A run killed outright (SIGKILL, power loss) still says ``running``; it resumes alike.
    """
    if run.manifest.get("schema_version") != SCHEMA_VERSION:
        raise UserError(f"run {run.run_id} was written by an older harness (schema version "
                        f"{run.manifest.get('schema_version')}); start a new run")  # fmt: skip
    validate(run.path / MANIFEST, run.manifest, RESUMABLE)
    if HostKind.of_environment(run.environment) != HostKind.of_environment(environment):
        raise UserError(f"run {run.run_id} was recorded on another host; resume it there")
    opts = run.manifest.get("options") or {}
    paths = [Path(p) for p in opts.get("workload_paths", [])]
    options = RunOptions.from_json(opts, str(environment.get("arch")))
    owed = adaptive.unfinished(run.manifest, options)
    todo = [c for c in run.results if c.processes < options.processes or c.id in owed]
    if not todo:
        raise UserError(f"run {run.run_id} has no missing or failed case or process to resume")
    names = ",".join(dict.fromkeys(c.key.workload for c in todo))
    profiles = [Profile(name, **spec) for name, spec in run.manifest["profiles"].items()]
    return RunRequest(
        workloads=select(discover(paths), names),
        cases=[Case.of(c.key, int(c.plan["n"])) for c in todo],
        options=options,
        out=run.path.parent,
        environment=run.environment,
        argv=argv,
        profiles=profiles,
        roofline=bool(opts.get("roofline")) and "roofline" not in run.manifest,
        workload_paths=paths,
        done={c.id: c.processes for c in todo if c.processes},
    )


def start(request: RunRequest, console: Console) -> RunWriter:
    """A new run directory with every case planned, and the host's limits measured."""
    workloads = {w.name: w for w in request.workloads}
    run_id = new_run_id()
    run_dir = make_run_dir(request.out, run_id)
    machine_info, commit_info = _benchmark_context()
    writer = RunWriter(run_dir, _manifest(request, run_id, workloads), machine_info, commit_info)
    console.print(f"run [bold]{run_id}[/] → {terminal(run_dir)}")
    if request.environment.get("emulated"):
        console.print("[bold yellow]EMULATED[/]: aarch64 code under QEMU user mode on this host; "
                      "outputs are checked, times are QEMU's, never priced or judged")  # fmt: skip
    if request.match is not None:
        console.print(match_line(request.match))
    if request.environment.get("emulated"):
        writer.manifest["roofline"] = {"error": "not measured under emulation"}
        writer.flush()
    return writer


def _measure_limits(request: RunRequest, writer: RunWriter, console: Console) -> None:
    """The host's roofline, unless the run has it (or was asked not to): a run stopped during
    the probes measures them when resumed."""
    if not request.roofline or "roofline" in writer.manifest:
        return
    with console.status("measuring this host's limits (triad, FMA peak, SGEMM)"):
        native = resolve("native", request.environment)
        writer.manifest["roofline"] = run_probes(
            request.options.interpreter,
            worker_env(request.options, native),
            request.options.threads,
            request.options.timeout_s,
        )
    writer.flush()
    console.print(roofline_line(writer.manifest["roofline"]))


def reopen(run: Run, request: RunRequest, console: Console) -> RunWriter:
    """An interrupted or partly failed run: the cases that run again from their first process
    reset to pending, those with processes to add kept as they are."""
    writer = RunWriter.reopen(run)
    for case in request.cases:
        if not request.done.get(case.id):
            writer.reset(case.id)
    writer.manifest["status"] = "running"
    writer.flush()
    processes = sum(len(request.passes(c)) for c in request.cases)
    owed = sum(not request.passes(c) for c in request.cases)
    more = f", then added processes for {owed} case(s) wider than --ci-target" if owed else ""
    console.print(f"resuming run [bold]{terminal(run.run_id)}[/]: {len(request.cases)} cases, "
                  f"{processes} processes to run{more}")  # fmt: skip
    return writer


def _runs_in(request: RunRequest, writer: RunWriter, number: int, case: Case) -> bool:
    """Whether a case runs in pass ``number``: its first, or a later one while it is still ok."""
    passes = request.passes(case)
    return number in passes and (number == passes.start or writer.case(case.id)["status"] == "ok")


def _one_pass(
    request: RunRequest,
    writer: RunWriter,
    progress: Any,
    runs: Callable[[Case], bool],
    repeats: Mapping[str, int] | None = None,
) -> None:
    """Every workload once, with the cases ``runs`` picks for this pass; with ``repeats``
    (processes per case id), that many forked processes of each, interleaved."""
    fork = repeats is not None
    for workload in request.workloads:
        for profile in request.profiles:
            cases = [
                c
                for c in request.cases
                if c.workload == workload.name and c.profile == profile.name and runs(c)
            ]
            if repeats is not None:
                cases = [c for i in range(max((repeats[c.id] for c in cases), default=0))
                         for c in cases if repeats[c.id] > i]  # fmt: skip
            if cases:
                run_workload(workload, profile, cases, request.options, writer, progress, fork)


def _left(request: RunRequest, writer: RunWriter, after: int) -> int:
    """Processes still to run after pass ``after``: those of cases that are still ok."""
    return sum(
        len(range(max(after + 1, p.start), p.stop))
        for c in request.cases
        if (p := request.passes(c)) and writer.case(c.id)["status"] == "ok"
    )


def _wait_quiet(limit_s: float, console: Console) -> None:
    """Before a pass, wait (at most ``limit_s``) for a quiet host, and say how it went."""
    if limit_s <= 0:
        return
    reading, waited = host_load.wait_quiet(limit_s)
    if reading["noisy"]:
        console.print(f"[yellow]host still busy[/] after {waited:.0f} s (steal "
                      f"{reading['steal']:.1%}, other processes {reading['other_load']:.1%} of "
                      "the CPUs): measuring anyway; busy cases are marked noisy")  # fmt: skip
    else:
        console.print(f"host quiet after {waited:.0f} s")


def _more_processes(
    request: RunRequest, writer: RunWriter, progress: Any, console: Console, spent_s: float
) -> None:
    """Processes added to the cases still wider than ``--ci-target`` (harness.run.adaptive)."""

    def run_pass(number: int, repeats: Mapping[str, int]) -> None:
        added = sum(repeats.values())
        progress.grow(added)
        how = "forked" if request.options.replicates == "fork" else "fresh"
        target = request.options.ci_target
        console.print(f"process {number + 1}: {len(repeats)} case(s) still wider than "
                      f"±{target:.0%}: {added} {how} process(es) more")  # fmt: skip
        _wait_quiet(request.options.wait_quiet_s, console)
        fork = repeats if request.options.replicates == "fork" else None
        _one_pass(request, writer, progress, lambda c: c.id in repeats, fork)

    added, why = adaptive.extend(writer, request.cases, request.options, run_pass, spent_s)
    if why != "off":
        console.print(adaptive.summary_line(writer, request.options.ci_target, added, why))


def execute(request: RunRequest, writer: RunWriter, console: Console) -> Path:
    """Run the request's cases into ``writer``; returns the run directory.

    Ctrl-C (and SIGTERM) stops the worker, marks the run interrupted and keeps every finished
    process; ``--resume`` runs the rest.
    """
    passes = request.options.processes
    total = sum(len(request.passes(c)) for c in request.cases)
    with RunProgress(console, total, passes, case_line, dict(request.done)) as progress:
        try:
            _measure_limits(request, writer, console)
            began = time.monotonic()
            for number in range(passes):
                _wait_quiet(request.options.wait_quiet_s, console)
                _one_pass(request, writer, progress, partial(_runs_in, request, writer, number))
                progress.settle(total - _left(request, writer, number))
                if passes > 1 and number + 1 < passes:
                    ok = sum(c["status"] == "ok" for c in writer.manifest["cases"])
                    console.print(f"process {number + 1}/{passes} done: {ok} case(s) ok; "
                                  + progress.status().removeprefix("progress: "))  # fmt: skip
            _more_processes(request, writer, progress, console, time.monotonic() - began)
        except KeyboardInterrupt:
            writer.finish("interrupted")
            done = sum(c["status"] != "pending" for c in writer.manifest["cases"])
            rest = (f"{done} finished cases kept in {writer.run_dir}; continue with: harness run "
                    f"--resume {writer.run_dir.name} --out {writer.run_dir.parent}")  # fmt: skip
            console.print(f"[yellow]interrupted[/]: {terminal(rest)}")
            raise
    writer.finish("complete")
    return writer.run_dir
