"""``harness run``: turn the command line into a run, locally, emulated, or on a fleet."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.errors import UserError
from harness.keys import CaseKey
from harness.measure.sample_stats import judged
from harness.pricing.arithmetic import throughput_estimate
from harness.run.stopping import WRITE_ERRORS, cannot_write, exit_status, stop_on_signals
from harness.units import seconds, si, with_unit
from harness.untrusted import terminal


def _default_cache_dir() -> Path:
    """The base of the per-profile Numba caches (each profile gets its own folder in it)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ai-cpu-harness" / "numba"


def _summary_row(row: dict[str, Any]) -> list[str]:
    case = terminal(CaseKey.of(row).label)  # rich reads cells as markup: results are data
    if not row["valid"]:
        why = terminal(f"{row['status']}: {row['error']}")
        return [case, "", "", "", "", "", "", f"[red]{why}[/]"]
    attained, roof = row["attained"], row["roof_limit"]
    from harness.pricing.rows import CACHE_RESIDENT, INTEGER  # pandas: not at start-up

    unread = {INTEGER: "integer: no FLOP roof", CACHE_RESIDENT: "cache-resident"}
    read = f"{attained:.0%} of {roof.split('_')[0]}" if attained == attained else None
    limit = read or unread.get(roof, "")
    rate = throughput_estimate(row)
    isa = terminal(row["vector_isa"]) if isinstance(row["vector_isa"], str) else ""
    return [
        case,
        with_unit(rate.value, terminal(f"{row['unit']}/s")),
        f"{si(rate.low)} \u2013 {si(rate.high)}" if judged(row["ci_method"]) else "one process",
        seconds(row["median_s"]),
        f"{row['bandwidth_gbs']:.3g}",
        limit,
        f"{row['compile_s']:.2f} s",
        "[yellow]noisy host[/]" if row["noisy"] is True else
        f"[green]ok[/] {isa}",
    ]  # fmt: skip


def _summary(run_dir: Path) -> Table:
    from harness.pricing.rows import rows
    from harness.results import load_run

    table = Table("case", "throughput", "95% CI", "median", "GB/s", "roofline", "compile", "status")
    for row in rows([load_run(run_dir)]).to_dict("records"):
        table.add_row(*_summary_row({str(k): v for k, v in row.items()}))
    return table


def _print_summary(run_dir: Path) -> None:
    # a log file or a CI job gets the whole table, not 80 columns of wrapped cells
    console = Console(emoji=False, width=None if sys.stdout.isatty() else 160)
    console.print(_summary(run_dir))
    banner = noise_banner(run_dir)
    if banner:
        console.print(banner)


def noise_banner(run_dir: Path) -> str | None:
    """How many cases ran on a busy host, and why: their numbers are kept but not judged."""
    from harness.results import load_run

    cases = [c for c in load_run(run_dir).results if c.ok]
    noisy = [c for c in cases if c.noisy]
    if not noisy:
        return None
    loads = [c.outcome.get("host_load") or {} for c in noisy]
    steal = max(float(x.get("steal") or 0) for x in loads)
    other = max(float(x.get("other_load") or 0) for x in loads)
    return (f"[yellow]NOISY HOST[/]: {len(noisy)} of {len(cases)} cases ran while the host was "
            f"busy (worst: steal {steal:.1%}, other processes {other:.1%} of the CPUs); their "
            "numbers are kept and marked noisy, and compare does not judge them")  # fmt: skip


def _host_env(args: argparse.Namespace) -> tuple[dict[str, Any], tuple[str, ...], str]:
    """The environment to plan for, the interpreter workers run on, and the profile list."""
    from harness.host.environment import capture

    if args.host in (None, "local"):
        return capture(instance_type=args.instance_type), (), args.profile
    from harness.host import emulation

    python = emulation.launcher()
    profile = emulation.DEFAULT_PROFILE if args.profile == "native" else args.profile
    first = profile.split(",")[0].strip()
    env = emulation.capture(python, {"NUMBA_CPU_NAME": first, "NUMBA_CPU_FEATURES": ""})
    return env, (str(python),), profile


def _processes(given: int | None) -> int:
    """``--processes``, else ``$HARNESS_PROCESSES``, else 5; 1 to 100."""
    raw: Any = given if given is not None else os.environ.get("HARNESS_PROCESSES", "5")
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise UserError(f"processes {raw!r} must be a whole number from 1 to 100")
    return value


def _ci_target(args: argparse.Namespace, processes: int, emulated: bool) -> dict[str, Any]:
    """--ci-target (else $HARNESS_CI_TARGET, else 0.05), --max-processes and --ci-budget."""
    from harness.run.arguments import fraction

    raw = os.environ.get("HARNESS_CI_TARGET", "0.05")
    try:
        target = args.ci_target if args.ci_target is not None else fraction(raw)
    except argparse.ArgumentTypeError as bad:
        raise UserError(f"HARNESS_CI_TARGET: {bad}") from None
    most = args.max_processes or max(20, processes)
    if most < processes:
        raise UserError(f"--max-processes {most} is below --processes {processes}")
    target = 0.0 if emulated or processes < 2 else target  # nothing to narrow
    return {"ci_target": target, "max_processes": most, "ci_budget_s": args.ci_budget,
            "replicates": args.replicates}  # fmt: skip


def _new_request(args: argparse.Namespace) -> Any:
    from harness.host.profiles import parse_profiles
    from harness.measure.affinity import choose
    from harness.measure.timing import Timing
    from harness.pricing.catalog import load_catalog
    from harness.pricing.matching import check_named_type, match_host
    from harness.run.arguments import check_cache_dir
    from harness.run.plan import parse_modes, parse_sizes, parse_threads, plan
    from harness.run.runner import RunOptions
    from harness.run.session import RunRequest
    from harness.workload import discover, select, workload_dirs

    sizes, modes = parse_sizes(args.size), parse_modes(args.mode)
    env, python, profile_names = _host_env(args)
    # Emulated timings mean nothing (they are never compared or priced): one quick round in one
    # process, so the run is about compiling and checking every kernel on aarch64 code.
    emulated = bool(env.get("emulated"))
    default_time = 0.01 if emulated else (0.2 if sizes == ["tiny"] else 1.0)
    processes = 1 if emulated and args.processes is None else _processes(args.processes)
    paths = workload_dirs(args.workload_path)
    workloads = select(discover(paths), args.workloads)
    threads = parse_threads(args.threads, int(env["topology"]["usable_cpus"]))
    options = RunOptions(
        seed=args.seed,
        timing=Timing(
            max_time=args.max_time or default_time,
            min_rounds=args.min_rounds or (1 if emulated else 5),
            warmup_rounds=0 if emulated else 2,
            cold_compile=not emulated,  # QEMU compiles are minutes, and their times mean nothing
        ),
        timeout_s=args.timeout or (1200.0 if emulated else 300.0),
        threads=max(threads),
        cache_dir=check_cache_dir(args.cache_dir) if args.cache_dir else _default_cache_dir(),
        arch=str(env["arch"]),
        python=python,
        processes=processes,
        speed_cpu=choose(args.affinity),
        wait_quiet_s=args.wait_quiet or 0.0,
        **_ci_target(args, processes, emulated),
    )
    profiles = parse_profiles(profile_names, env)
    cases = plan(workloads, sizes, modes, threads, [p.name for p in profiles])
    match = None if env.get("emulated") else match_host(env, load_catalog(), price=args.price)
    if args.instance_type and match is not None and match.target is not None:
        check_named_type(env, match.target)
    return RunRequest(workloads, cases, options, args.out, env, args.argv, profiles,
                      roofline=not args.no_roofline, workload_paths=paths,
                      price=args.price, match=match)  # fmt: skip


def _write_run_report(run_dir: Path) -> Path:
    from harness.pricing.rows import priced_rows
    from harness.report.render import write_report
    from harness.results import load_run

    run = load_run(run_dir)
    report = run_dir / "report.html"
    envs = [{"run_id": run.run_id, "env": run.environment}]
    write_report(priced_rows([run]), envs, report, runs=[run])
    return report


def _resume_env(run: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The environment now, captured the way the run was (natively or under emulation)."""
    from harness.host.environment import capture

    python = (run.manifest.get("options") or {}).get("python")
    if not python:
        return capture(instance_type=args.instance_type)
    from harness.host import emulation

    profile = next(iter(run.manifest.get("profiles") or {}), emulation.DEFAULT_PROFILE)
    return emulation.capture(Path(python[0]), {"NUMBA_CPU_NAME": profile, "NUMBA_CPU_FEATURES": ""})


FLEET_ONLY = ("--host", "--hosts", "--out", "--resume")


def _remote_args(argv: list[str]) -> list[str]:
    """The run's own arguments, less those that say where it runs and where results go."""
    kept: list[str] = []
    skip = False
    for arg in argv[1:]:  # argv[0] is "run"
        if skip:
            skip = False
        elif arg in FLEET_ONLY:
            skip = True
        elif not arg.startswith(tuple(f"{flag}=" for flag in FLEET_ONLY)):
            kept.append(arg)
    return kept


def _run_fleet(args: argparse.Namespace) -> int:
    from harness.run.fleet_executor import fleet_exit_code, run_fleet
    from harness.run.fleet_file import load_fleet, parse_host

    hosts = load_fleet(args.hosts) if args.hosts else [parse_host(args.host)]
    repo = Path(__file__).resolve().parents[2]
    console = Console(stderr=True, emoji=False)
    fleet_dir = run_fleet(hosts, _remote_args(args.argv), args.out, console, repo)
    for run_dir in sorted(p for p in fleet_dir.iterdir() if (p / "manifest.json").exists()):
        _print_summary(run_dir)
    print(f"results: {fleet_dir}")
    return fleet_exit_code(fleet_dir)


def run(args: argparse.Namespace) -> int:
    """Ctrl-C, SIGTERM or SIGHUP end the run (or fleet) cleanly: 130, 143 or 129."""
    with stop_on_signals():
        try:
            return _run(args)
        except KeyboardInterrupt as stop:
            return exit_status(stop)


def _run(args: argparse.Namespace) -> int:
    from harness.results import load_run
    from harness.run.progress import progress_every
    from harness.run.session import execute, reopen, resume_request, start

    if args.hosts or (args.host and args.host not in ("local", "qemu-aarch64")):
        if args.resume:
            raise UserError("--resume works on one host's run, not with --host/--hosts")
        return _run_fleet(args)
    progress_every()  # a bad $HARNESS_PROGRESS_EVERY is refused before anything is written
    console = Console(stderr=True, emoji=False)
    run = load_run(args.out / args.resume) if args.resume else None
    request = resume_request(run, _resume_env(run, args), args.argv) if run else _new_request(args)
    writer = None
    try:  # a full disk: one line, the run marked interrupted, resumable
        writer = reopen(run, request, console) if run else start(request, console)
        run_dir = execute(request, writer, console)
    except OSError as exc:
        if exc.errno not in WRITE_ERRORS:  # a broken pipe is cli.main's; others are bugs
            raise
        raise cannot_write(writer, exc) from None
    _print_summary(run_dir)
    print(f"results: {run_dir}")
    if args.report:
        print(f"report: {_write_run_report(run_dir)}")
    failed = sum(1 for c in load_run(run_dir).results if c.status != "ok")
    return 1 if failed else 0
