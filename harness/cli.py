"""The ``harness`` command. User errors are caught here, once: one line, exit status 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from harness import __version__
from harness.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, UserError
from harness.listings import cmd_env, cmd_identify, cmd_list, cmd_targets
from harness.run.arguments import add_run_parser, fraction
from harness.untrusted import plain

DESCRIPTION = """\
Measure what AI-infrastructure CPU work costs on this host: Numba kernels for data
preprocessing, embedding, evaluation and agent loops, each checked against a reference
before it is timed, with medians and 95% confidence intervals.

typical use:
  harness env                      who this host is (CPU, LLVM target, cloud, software)
  harness identify DIR             who a recorded machine is (its cpuinfo, lscpu, DMI files)
  harness list                     the workloads
  harness run --size tiny          a quick run; results in results/<run-id>/
  harness export results/          one CSV row per case
  harness report results/ -o r.html
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def cmd_run(args: argparse.Namespace) -> int:
    from harness.run.command import run

    return run(args)


def _summary_frame(runs: Any, prices: Path | None, baseline: str | None) -> Any:
    """The report's summary (suite ratios per target, category, measure and mode) as rows."""
    from harness.pricing.rows import priced_rows
    from harness.report.data import prepare
    from harness.report.summary import summarise, summary_rows

    envs = [{"run_id": r.run_id, "env": r.environment} for r in runs]
    data = prepare(priced_rows(runs, prices), envs, runs)
    summary = summarise(data.current, baseline, data.native)
    for gap in summary.gaps:
        print(f"note: {plain(gap)}", file=sys.stderr)
    return summary_rows(summary)


def cmd_export(args: argparse.Namespace) -> int:
    from harness.pricing.rows import priced_rows, write
    from harness.results import find_runs

    if args.format not in ("csv", "json"):
        raise UserError(f"unknown export format {args.format!r} (choose from csv, json)")
    runs = find_runs(Path(p) for p in args.results)
    if args.summary:
        frame = _summary_frame(runs, args.prices, args.baseline)
    else:
        frame = priced_rows(runs, args.prices, args.baseline)
    text = write(frame, args.format, args.output, runs)
    if text is not None:
        sys.stdout.write(text)
    return 0


def cmd_crosscheck(args: argparse.Namespace) -> int:
    from harness.analysis.crosscheck import crosscheck, pick_two, render
    from harness.results import find_runs
    from harness.workload import discover, workload_dirs

    a, b = pick_two(find_runs([Path(args.a), Path(args.b)]))
    result = crosscheck(a, b, discover(workload_dirs(args.workload_path)))
    sys.stdout.write(render(result, a, b, args.format))
    return 0 if result.ok else 1


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.analysis.compare import compare_runs, exit_code
    from harness.analysis.compare_text import render
    from harness.results import find_runs

    comparison = compare_runs(
        find_runs([Path(args.base)]),
        find_runs([Path(args.cand)]),
        threshold=args.threshold,
        alpha=args.alpha,
        across_arch=args.across_arch,
        prices=args.prices,
        allow_empty=args.allow_empty,
    )
    sys.stdout.write(render(comparison, args.format))
    return exit_code(comparison)


def cmd_history(args: argparse.Namespace) -> int:
    from harness.analysis.history import history, render
    from harness.results import find_runs

    sys.stdout.write(render(history(find_runs(Path(p) for p in args.results)), args.format))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from harness.pricing.rows import priced_rows
    from harness.report.render import write_report
    from harness.results import find_runs

    runs = find_runs(Path(p) for p in args.results)
    envs = [{"run_id": r.run_id, "env": r.environment} for r in runs]
    frame = priced_rows(runs, args.prices)  # the report reads relative figures itself
    title = {"title": args.title} if args.title else {}
    write_report(frame, envs, args.output, runs=runs, baseline=args.baseline, **title)
    print(f"report: {args.output} ({len(runs)} run(s), {len(frame)} row(s))")
    return 0


def _price_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prices", type=Path, help="a TOML price file layered over the catalog")
    p.add_argument(
        "--baseline", help="the run id, instance type or host that performance per dollar is "
        "relative to",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="harness",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("env", help="identify this host")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--instance-type", help="the cloud instance type, when DMI cannot tell")
    p.set_defaults(func=cmd_env)
    p = sub.add_parser(
        "identify", help="identify machines from recorded files (cpuinfo.txt, lscpu.txt, DMI)",
        description="Identify each FOLDER's machine as `harness env` would this host, from "
        "files recorded there: cpuinfo.txt (a copy of /proc/cpuinfo), lscpu.txt, and DMI as "
        "dmi.txt (dmidecode output) or dmi/ (a copy of /sys/class/dmi/id).",
    )  # fmt: skip
    p.add_argument("folders", nargs="+", type=Path, metavar="FOLDER")
    p.add_argument("--json", action="store_true", help="a JSON list: cpu, cloud, topology each")
    p.add_argument("--instance-type", help="the cloud instance type, when DMI cannot tell")
    p.set_defaults(func=cmd_identify)
    p = sub.add_parser("list", help="list the workloads")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--workload-path",
        action="append",
        metavar="DIR",
        help="another folder of workload modules (repeatable)",
    )
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("targets", help="list the instance catalog with prices")
    p.add_argument("--arch", help="aarch64 (arm64) or x86_64 (amd64)")
    p.add_argument("--cloud", help="aws, gcp or azure")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--prices", type=Path, help="a TOML price file layered over the catalog")
    p.set_defaults(func=cmd_targets)
    add_run_parser(sub, cmd_run)
    p = sub.add_parser("export", help="flatten results to one row per case")
    p.add_argument("results", nargs="+", help="run folders, manifests, or folders of runs")
    p.add_argument("--format", default="csv", help="csv or json (default: csv)")
    p.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    p.add_argument(
        "--summary", action="store_true", help="the report's suite summary instead: one row per "
        "target, category, measure (throughput, perf_per_dollar) and mode, with ratio, low, "
        "high, baseline, n_cases and the interval's method",
    )  # fmt: skip
    _price_options(p)
    p.set_defaults(func=cmd_export)
    p = sub.add_parser(
        "crosscheck",
        help="check that two runs (e.g. x86 and emulated aarch64) computed the same outputs",
    )
    p.add_argument("a", help="a run folder or manifest")
    p.add_argument("b", help="another run folder or manifest")
    p.add_argument("--format", default="text", help="text or json (default: text)")
    p.add_argument("--workload-path", action="append", metavar="DIR",
                   help="another folder of workload modules (repeatable)")  # fmt: skip
    p.set_defaults(func=cmd_crosscheck)
    p = sub.add_parser(
        "compare",
        help="compare two runs: regressions that are significant and larger than a threshold",
        description="Pair cases by host kind (arch, CPU, LLVM CPU, instance type) and case "
        "(workload, size, mode, threads, profile); per case Yuen's trimmed t on the worker "
        "processes' medians (a case with one process on a side is not judged), "
        "Benjamini-Hochberg corrected across cases. Exit 0: no regression; 1: a regression, a "
        "broken case, or nothing judged (no case paired, or every pair noisy or in one "
        "process); 2: bad input.",
    )
    p.add_argument("base", help="the baseline: a run folder, manifest, or folder of runs")
    p.add_argument("cand", help="the candidate: a run folder, manifest, or folder of runs")
    p.add_argument(
        "--threshold", type=fraction, default=0.05,
        help="smallest change that counts, a fraction in [0, 1) (default 0.05: 5%%)",
    )  # fmt: skip
    p.add_argument("--alpha", type=float, default=0.05, help="false discovery rate (0.05)")
    p.add_argument(
        "--across-arch",
        action="store_true",
        help="compare an x86 run with an aarch64 run case by case (ratios, no pass/fail)",
    )
    p.add_argument("--format", default="text", help="text, markdown or json (default: text)")
    p.add_argument(
        "--prices", type=Path, help="a TOML price file laid over the catalog (for perf/$)"
    )
    p.add_argument(
        "--allow-empty", action="store_true",
        help="exit 0 even when nothing could be judged (no case paired, or every pair noisy)",
    )  # fmt: skip
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("history", help="runs of many nights in order, with change points")
    p.add_argument("results", nargs="+", help="folders of runs (e.g. results/)")
    p.add_argument("--format", default="text", help="text, markdown or json (default: text)")
    p.set_defaults(func=cmd_history)
    p = sub.add_parser("report", help="write the HTML report")
    p.add_argument("results", nargs="+", help="run folders, manifests, or folders of runs")
    p.add_argument("-o", "--output", type=Path, required=True, help="the HTML file to write")
    p.add_argument("--title", help="the page title (default: AI CPU workloads: price-performance)")
    _price_options(p)
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        args.argv = argv
        return int(args.func(args))
    except UserError as exc:
        print(f"harness: error: {plain(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
