"""A run from start to finish: plan the cases, record the host, drive the workers, keep results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness import __version__
from harness.plan import Case
from harness.profiles import Profile, resolve
from harness.results import RunWriter, make_run_dir, new_run_id
from harness.roofline import run_probes
from harness.runner import RunOptions, run_workload, worker_env
from harness.workload import Workload


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


def si(value: float) -> str:
    """A rate with an SI prefix: 12.3 M, 4.56 G."""
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}"
    return f"{value:.3g} "


def case_line(case: dict[str, Any]) -> str:
    """One finished case as a progress line."""
    if case.get("status") != "ok":
        return f"[red]✗[/] {case['id']}  [red]{case.get('error')}[/]"
    stats = case["stats"]
    spread = (stats["ci_high_s"] - stats["ci_low_s"]) / 2 / stats["median_s"]
    return (
        f"[green]✓[/] {case['id']}  {si(case['throughput'])}{case['unit']}/s "
        f"±{spread:.1%}  (compile {case['compile_s']:.2f} s, {stats['rounds']} rounds)"
    )


def roofline_line(roofline: dict[str, Any]) -> str:
    """The measured limits in one line."""
    if "error" in roofline:
        return f"[yellow]limits not measured[/]: {roofline['error']}"
    parts = []
    for key, label in (("triad_gbs", "GB/s triad"), ("fma_gflops", "GFLOP/s FMA"),
                       ("sgemm_gflops", "GFLOP/s SGEMM")):  # fmt: skip
        values = ", ".join(f"{v:.3g} @{t}t" for t, v in roofline[key].items())
        parts.append(f"{label} {values}")
    return "limits: " + "; ".join(parts)


def _manifest(request: RunRequest, run_id: str, workloads: dict[str, Workload]) -> dict[str, Any]:
    from harness.results import SCHEMA, SCHEMA_VERSION

    def planned(case: Case) -> dict[str, Any]:
        w = workloads[case.workload]
        return {
            "id": case.id,
            **asdict(case),
            "category": w.category,
            "unit": w.unit,
            "bound": w.bound,
            "work": w.work(case.n),
            "bytes": w.bytes(case.n),
            "flops": w.flops(case.n),
            "status": "pending",
            "error": None,
        }

    options = asdict(request.options)
    options["cache_dir"] = str(options["cache_dir"]) if options["cache_dir"] else None
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


def execute(request: RunRequest, console: Console | None = None) -> Path:
    """Run every case; returns the run directory. Ctrl-C keeps what finished."""
    console = console or Console(stderr=True)
    workloads = {w.name: w for w in request.workloads}
    run_id = new_run_id()
    run_dir = make_run_dir(request.out, run_id)
    machine_info, commit_info = _benchmark_context()
    writer = RunWriter(run_dir, _manifest(request, run_id, workloads), machine_info, commit_info)
    console.print(f"run [bold]{run_id}[/] → {run_dir}")
    if request.roofline:
        with console.status("measuring this host's limits (triad, FMA peak, SGEMM)"):
            native = resolve("native", request.environment)
            writer.manifest["roofline"] = run_probes(
                worker_env(request.options, native),
                request.options.threads,
                request.options.timeout_s,
            )
        writer.flush()
        console.print(roofline_line(writer.manifest["roofline"]))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("starting", total=len(request.cases))

        def progress(kind: str, case: Case, record: dict[str, Any] | None) -> None:
            if kind == "start":
                bar.update(task, description=f"[cyan]{case.id}")
            elif record is not None:
                bar.console.print(case_line(record))
                bar.advance(task)

        try:
            for workload in request.workloads:
                for profile in request.profiles:
                    cases = [
                        c
                        for c in request.cases
                        if c.workload == workload.name and c.profile == profile.name
                    ]
                    run_workload(workload, profile, cases, request.options, writer, progress)
        except KeyboardInterrupt:
            writer.finish("interrupted")
            done = sum(c["status"] != "pending" for c in writer.manifest["cases"])
            console.print(f"[yellow]interrupted[/]: {done} finished cases kept in {run_dir}")
            raise
    writer.finish("complete")
    return run_dir
