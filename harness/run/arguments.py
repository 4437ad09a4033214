"""The options of ``harness run``: what to measure, how long, where, and how to price it."""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import UserError


def _number(text: str, ok: Callable[[float], bool], what: str) -> float:
    """``text`` as a number for which ``ok`` holds, else argparse's error naming it and ``what``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def positive_seconds(text: str) -> float:
    """A positive, finite number of seconds (argparse type: refused at parse time)."""
    return _number(text, lambda v: v > 0, "a positive number of seconds")


def fraction(text: str) -> float:
    """A fraction in [0, 1), such as a threshold of 0.05 (argparse type)."""
    return _number(text, lambda v: 0 <= v < 1, "a fraction in [0, 1), such as 0.05")


def positive_count(text: str) -> int:
    """A whole number of at least 1 (argparse type)."""
    value = _number(text, lambda v: v >= 1 and v == int(v), "a whole number of at least 1")
    return int(value)


def seed(text: str) -> int:
    """A whole number from 0 to 2**64 - 1, as numpy's ``default_rng`` takes (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 0 to 2**64 - 1")
    return value


def check_cache_dir(path: Path) -> Path:
    """``--cache-dir``: a folder Numba can write its cache in, or one it can create. Checked
    when a run starts here, not at parse time: a fleet's hosts get the path as it is."""
    nearest = next((p for p in (path, *path.parents) if os.path.exists(p)), path)
    bad = f"--cache-dir {str(path)!r}"
    if not nearest.is_dir():
        why = "" if nearest == path else f" ({nearest} is not a folder)"
        raise UserError(f"{bad} is not a folder{why}")
    try:  # a probe, not a permission check: root passes those on a read-only file system
        with tempfile.TemporaryFile(dir=nearest):
            pass
    except OSError as exc:
        raise UserError(
            f"{bad} is not writable (cannot create a file in {nearest}: {exc.strerror})"
        ) from None
    return path


def add_run_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    """The ``harness run`` subcommand and its options, with their defaults in the help."""
    p = sub.add_parser(
        "run",
        help="measure workloads on this host",
        description="Measure workloads on this host, one worker process each.",
    )
    p.add_argument("--workloads", help="comma list of workload names (default: all)")
    p.add_argument(
        "--size",
        default="default",
        help="tiny|small|default|large, or a comma list (default: default)",
    )
    p.add_argument("--mode", default="both", help="speed|rate|both (default: both)")
    p.add_argument(
        "--threads",
        default="all",
        help="threads for the rate form: a count, 'all', or a sweep like 1,2,4,all (default: all)",
    )
    p.add_argument(
        "--profile",
        default="native",
        help="compile profiles, a comma list: native (host CPU), portable (generic), or any "
        "LLVM CPU name of this architecture, e.g. native,x86-64-v3,portable (default: native)",
    )
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    p.add_argument(
        "--seed", type=seed, default=0, help="seed of every workload's inputs, 0 to 2**64 - 1"
    )
    p.add_argument(
        "--timeout",
        type=positive_seconds,
        help="seconds per case before its worker is killed (default: 300; 1200 under emulation, "
        "where one compile can take minutes)",
    )
    p.add_argument(
        "--wait-quiet",
        type=positive_seconds,
        metavar="SECONDS",
        help="before each pass, wait up to SECONDS for a quiet host (steal under 2%%, other "
        "processes under 10%% of the CPUs); cases still measured on a busy host are marked "
        "noisy (default: no wait)",
    )
    p.add_argument(
        "--affinity",
        default="auto",
        help="the CPU single-thread (speed) cases run on: auto (an isolated CPU, else the first "
        "usable one), a CPU number, or none (default: auto)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=None,
        help="fresh worker processes per case, interleaved over the run, their rounds and "
        "time budget shared; compare tests the processes' medians (default: 5, or "
        "$HARNESS_PROCESSES)",
    )
    p.add_argument(
        "--ci-target",
        type=fraction,
        default=None,
        metavar="FRACTION",
        help="precision to reach per case: the relative half-width of its 95%% interval. After "
        "the --processes passes, cases still wider get more processes (default: 0.05, "
        "or $HARNESS_CI_TARGET; 0: off). 5%% matches compare's --threshold; processes differ by "
        "7-16%% on shared hosts, so a noisy case needs about 10 processes to get there",
    )
    p.add_argument(
        "--max-processes",
        type=positive_count,
        default=None,
        help="most processes a case reaches for --ci-target (default: 20)",
    )
    p.add_argument(
        "--ci-budget",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="time the added processes may take in all (default: as long as the first "
        "--processes passes took, so a run at most doubles)",
    )
    p.add_argument(
        "--replicates",
        choices=("fork", "fresh"),
        default="fork",
        help="how the processes added for --ci-target are made: fork (default) from a worker "
        "that has imported Numba and loaded the kernel, each child making fresh inputs in new "
        "pages; fresh: a new interpreter each. The first --processes are always fresh "
        "interpreters; benchmarks/replicates.py measures how the two differ",
    )
    p.add_argument(
        "--max-time",
        type=positive_seconds,
        default=None,
        help="seconds of timed rounds per case (default: 1.0; 0.2 at tiny)",
    )
    p.add_argument(
        "--min-rounds", type=positive_count, default=None,
        help="fewest timed rounds per case (default: 5; 1 under emulation)",
    )  # fmt: skip
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="Numba cache folder (default: a per-user cache keyed by CPU)",
    )
    p.add_argument(
        "--host",
        help="where to run: local (default); qemu-aarch64 (emulated aarch64 on this machine, "
        "after `make aarch64-env`; results marked emulated, never priced); or user@addr:port "
        "over SSH",
    )
    p.add_argument(
        "--hosts",
        type=Path,
        metavar="FLEET.toml",
        help="run on every host of a fleet file over SSH, concurrently, results brought home",
    )
    p.add_argument("--instance-type", help="the cloud instance type, when DMI cannot tell")
    p.add_argument("--price", type=float, help="this host's price in USD per hour (overrides)")
    p.add_argument("--report", action="store_true", help="also write report.html in the run")
    p.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="run again only the missing or failed cases of RUN_ID (in --out), same options",
    )
    p.add_argument(
        "--no-roofline",
        action="store_true",
        help="skip measuring this host's limits (triad, FMA peak, SGEMM) before the cases",
    )
    p.add_argument(
        "--workload-path",
        action="append",
        metavar="DIR",
        help="another folder of workload modules (repeatable)",
    )
    p.set_defaults(func=func)
