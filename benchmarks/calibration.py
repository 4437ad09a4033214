"""``make perf``: do the harness's per-case intervals cover what repeated runs find?

Ten runs (``--runs``) of three tiny workloads, each run a fresh ``harness run`` with its default
five processes and no precision target (so every interval rests on the same five). For each
case, the truth is taken as the median of the ten runs' estimates, and the coverage is how
many runs' 95% intervals hold it. A run-to-run shift the processes of one run cannot see
(host state that lasts a whole run) shows up as coverage under 95%. Aim: >= 90%. Printed,
never asserted: this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.measure.sample_stats import process_estimate

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = "triad,logprob_eval,feature_normalize"
AIM = 0.90


Run = dict[str, tuple[float, float, float, list[float]]]


def one_run(out: Path, workloads: str, target: str) -> Run:
    """Each case's (estimate, low, high, process medians) from one fresh harness run."""
    subprocess.run(
        [sys.executable, "-m", "harness", "run", "--workloads", workloads, "--size", "tiny",
         "--mode", "speed", "--no-roofline", "--processes", "5", "--ci-target", target,
         "--out", str(out)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    (run,) = out.iterdir()
    cases = json.loads((run / "manifest.json").read_text())["cases"]
    return {c["id"]: (c["stats"]["median_s"], c["stats"]["ci_low_s"], c["stats"]["ci_high_s"],
                      c["process_medians"]) for c in cases if c["status"] == "ok"}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--workloads", default=WORKLOADS)
    p.add_argument("--ci-target", default="0", help="the runs' --ci-target (default 0: off)")
    args = p.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as name:
        runs = [one_run(Path(name) / f"run{i}", args.workloads, args.ci_target)
                for i in range(args.runs)]  # fmt: skip
    print(f"calibration: {args.runs} runs of {args.workloads} (tiny, speed, 5 processes, "
          f"--ci-target {args.ci_target}), {time.perf_counter() - started:.0f} s")  # fmt: skip
    hits = total = 0
    for case in runs[0]:
        found = [r[case] for r in runs if case in r]
        truth = float(np.median([f[0] for f in found]))
        covered = sum(low <= truth <= high for _, low, high, _ in found)
        spread = np.ptp([np.log(f[0]) for f in found])
        width = np.median([(f[2] - f[1]) / 2 / f[0] for f in found])
        print(f"  {case:38s} covered {covered}/{len(found)}  run-to-run range {spread:6.2%}  "
              f"median ±{width:.2%}")  # fmt: skip
        hits, total = hits + covered, total + len(found)
    print(f"coverage {hits}/{total} = {hits / total:.0%} (aim >= {AIM:.0%})")
    shared(runs)
    pooled(runs)


def pooled(runs: list[Run]) -> None:
    """Coverage when two runs, made one after the other, are pooled as the summary pools runs
    of one target: all their processes as replicates of the case (the runs' shift then shows
    in the spread of the processes, at the cost of a second run)."""
    hits = total = 0
    for case in runs[0]:
        found = [r[case] for r in runs if case in r]
        truth = float(np.median([f[0] for f in found]))
        for a, b in zip(found[::2], found[1::2], strict=False):
            both = process_estimate([*a[3], *b[3]])
            hits, total = hits + (both.low <= truth <= both.high), total + 1
    if total:
        print(f"two runs pooled (their processes together): coverage {hits}/{total} = "
              f"{hits / total:.0%}")  # fmt: skip


def shared(runs: list[Run]) -> None:
    """How much of a run's shift its cases share: the mean correlation, over pairs of cases,
    of their runs' log deviations from the case's median. Near 1: a host state that lasts a
    whole run moves every case alike; near 0: each case's shift is its own."""
    cases = [c for c in runs[0] if all(c in r for r in runs)]
    dev = np.array([[np.log(r[c][0]) for r in runs] for c in cases])
    dev -= np.median(dev, axis=1, keepdims=True)
    if len(cases) < 2:
        return
    corr = np.corrcoef(dev)
    pairs = corr[np.triu_indices(len(cases), 1)]
    print(f"run-to-run shifts shared between cases: mean correlation {np.mean(pairs):+.2f} "
          f"over {len(pairs)} pair(s)")  # fmt: skip


if __name__ == "__main__":
    main()
