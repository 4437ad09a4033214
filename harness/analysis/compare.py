"""Compare two sets of runs case by case, and call a change only when the data supports it.

Why this design (peers' users complain of both failure modes: Conbench raised its z threshold
from 5 to 30 to stop false alarms, pytest-benchmark flags any fixed-percent move as real):

- Cases pair only on the same kind of machine (arch, CPU, LLVM CPU name, instance type) and the
  same workload, size, mode, threads and compile profile. Cross-machine numbers are never a
  regression; ``across_arch`` pairs them on purpose and reports ratios with no verdict.
- Each pair is tested on its replicates: the medians of the worker processes (``--processes``)
  and runs on each side, by Yuen's trimmed Welch t on their logs, with the trimmed
  geometric-mean ratio and its interval (``harness.analysis.significance`` says why). With one
  process on a side the pair is not judged: its rounds are not replicates (an A/A of two
  single-process runs flagged 3 of 14 cases here when they were treated as such).
- Benjamini-Hochberg adjusts the p-values across all pairs of the comparison: a suite of 50
  cases at alpha 0.05 would otherwise flag 2.5 cases per night from noise alone.
- A change counts only when (1) the adjusted p is at most alpha, (2) the point ratio moves by
  more than ``threshold`` (log-symmetric: slower than 1+t or faster than 1/(1+t)), and (3) the
  interval excludes 1. Whole runs differ by a few percent with unchanged code, so significance
  alone flags A/A noise; the threshold is the practical floor (asv pairs a rank test with a
  factor the same way). The interval need not clear the threshold itself: simulated with 3%
  noise, that would cut the power to see a real 10% slowdown from 95% to 46% at 5 rounds.
- A flagged change where either side was measured on a noisy host (the harness's steal and
  other-load check) is shown as "noisy host", not judged: within-run rounds cannot reveal
  contention that lasted the whole case. An A/A of two runs on a loaded 2-vCPU box gave rate
  cases 0.001x-400x apart, all flagged noisy; its quiet speed cases stayed within 4%.
- A case that was ok in the base and fails in the candidate is broken, and fails the
  comparison like a regression: a benchmark that stopped working is worse than a slow one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.analysis.observations import CaseNote, Observation, SeriesId, grouped
from harness.analysis.pairing import match, why_empty
from harness.analysis.significance import ONE_PROCESS, Test, bh_adjust, pair_test
from harness.errors import UserError
from harness.keys import CaseKey, HostKind
from harness.measure.sample_stats import Estimate
from harness.results import Run


@dataclass(frozen=True)
class Series:
    """One case on one kind of host, its raw rounds pooled over the runs of one side."""

    host: HostKind
    key: CaseKey
    samples: tuple[float, ...]
    median_s: float
    work: float | None
    price_per_hour: float | None
    run_ids: tuple[str, ...]
    noisy: bool = False
    process_medians: tuple[float, ...] = ()  # every worker process's median, over the runs


@dataclass(frozen=True)
class Pair:
    """A base and a candidate series of the same case, and what their difference means."""

    case: str
    base_host: str
    cand_host: str
    base_median_s: float
    cand_median_s: float
    base_n: int
    cand_n: int
    time: Estimate  # candidate time over base time
    throughput: Estimate  # candidate throughput over base throughput
    p_value: float | None
    p_adjusted: float | None
    verdict: str
    perf_per_dollar: float | None = None
    method: str = "processes"  # what was tested: process medians, or ONE_PROCESS (nothing)
    noisy: bool = False  # either side was measured on a host with steal or other load

    @property
    def time_ratio(self) -> float:
        return self.time.value

    @property
    def throughput_ratio(self) -> float:
        return self.throughput.value


@dataclass(frozen=True)
class Comparison:
    """Every pair, unpaired and failed case, and the settings that judged them."""

    pairs: tuple[Pair, ...]
    unpaired: tuple[CaseNote, ...]
    failures: tuple[CaseNote, ...]
    broken: tuple[CaseNote, ...]
    threshold: float
    alpha: float
    across_arch: bool
    geomean_throughput_ratio: float | None = None
    empty: str | None = None  # why nothing could be judged: no pair, or every pair noisy
    allow_empty: bool = False  # --allow-empty: judging nothing is not a failure

    @property
    def regressions(self) -> tuple[Pair, ...]:
        return tuple(p for p in self.pairs if p.verdict == "regression")

    @property
    def improvements(self) -> tuple[Pair, ...]:
        return tuple(p for p in self.pairs if p.verdict == "improvement")


def run_prices(runs: Sequence[Run], price_file: Path | None = None) -> dict[str, float]:
    """Hourly price per run id, from the catalog row (or ``--price``) that matches its host.

    ``price_file`` (negotiated, reserved, spot) is laid over the catalog, as for ``export``
    and ``report``. Emulated runs are never priced: QEMU timings say nothing about the chip.
    """
    from harness.pricing.rows import catalog_with_prices, run_match

    catalog = catalog_with_prices(price_file)
    prices: dict[str, float] = {}
    for run in runs:
        if run.environment.get("emulated"):
            continue
        target = run_match(run, catalog).target
        if target is not None and math.isfinite(target.price_per_hour):
            prices[run.run_id] = float(target.price_per_hour)
    return prices


def collect(
    runs: Sequence[Run], side: str, price_file: Path | None = None
) -> tuple[dict[SeriesId, Series], list[CaseNote]]:
    """Ok cases pooled per host kind and case; failed and unfinished cases as notes."""
    pooled, notes = grouped(runs, side)
    prices = run_prices(runs, price_file)
    return {k: _pool(k, obs, prices) for k, obs in pooled.items()}, notes


def _pool(ident: SeriesId, obs: list[Observation], prices: Mapping[str, float]) -> Series:
    samples = tuple(x for o in obs for x in o.samples)
    median = float(np.median(samples if samples else [o.median_s for o in obs]))
    price = next((prices[o.run.run_id] for o in obs if o.run.run_id in prices), None)
    ids = tuple(o.run.run_id for o in obs)
    medians = tuple(m for o in obs for m in o.process_medians)
    noisy = any(o.noisy for o in obs)
    return Series(*ident, samples, median, obs[0].work, price, ids, noisy, medians)


@dataclass(frozen=True)
class Rule:
    """The settings that judge a pair."""

    threshold: float
    alpha: float
    across_arch: bool

    def verdict(self, test: Test, p_adj: float | None, noisy: bool) -> str:
        """A flagged change measured on a noisy host is reported as such, never judged."""
        if test.method == ONE_PROCESS and not self.across_arch:
            return ONE_PROCESS
        found = self._verdict(test.ratio, p_adj)
        return "noisy host" if noisy and found in ("regression", "improvement") else found

    def _verdict(self, time: Estimate, p_adj: float | None) -> str:
        if self.across_arch:
            return "across-arch"
        if p_adj is None:
            return "too few samples"
        if p_adj > self.alpha:
            return "not significant"
        if time.value > 1 + self.threshold and time.low > 1:
            return "regression"
        if time.value < 1 / (1 + self.threshold) and time.high < 1:
            return "improvement"
        return "below threshold"


def _test(b: Series, c: Series, rule: Rule) -> Test:
    return pair_test(b.process_medians, c.process_medians)


def _pair(b: Series, c: Series, test: Test, p_adj: float | None, rule: Rule) -> Pair:
    """Ratios of the medians, their interval, and the verdict on them."""
    time = test.ratio
    work_ratio = (c.work / b.work) if (b.work and c.work) else 1.0
    tput = time.map(lambda r: work_ratio / r if r > 0 else math.nan)
    prices = (b.price_per_hour or math.nan) / (c.price_per_hour or math.nan)
    ppd = tput.value * prices if math.isfinite(prices) else None
    centers = test.centers or (b.median_s, c.median_s)  # what the ratio is a ratio of
    return Pair(
        b.key.label, b.host.label, c.host.label, *centers,
        len(b.samples), len(c.samples), time, tput, test.p_value, p_adj,
        rule.verdict(test, p_adj, b.noisy or c.noisy), ppd, test.method, b.noisy or c.noisy,
    )  # fmt: skip


def _check(base: Sequence[Run], cand: Sequence[Run], threshold: float, alpha: float) -> None:
    for side, runs in (("base", base), ("candidate", cand)):
        if not runs:
            raise UserError(f"no {side} runs to compare (empty {side})")
    if not 0 <= threshold < 1:
        raise UserError(f"--threshold {threshold!r} must be a fraction in [0, 1), such as 0.05")
    if not 0 < alpha < 1:
        raise UserError(f"alpha {alpha!r} must lie between 0 and 1")


def compare_runs(
    base: Sequence[Run],
    cand: Sequence[Run],
    threshold: float = 0.05,
    alpha: float = 0.05,
    across_arch: bool = False,
    prices: Path | None = None,
    allow_empty: bool = False,
) -> Comparison:
    """Pair the cases of ``cand`` with those of ``base`` and judge each difference.

    ``prices`` is a price file laid over the catalog (``--prices``); prices only feed the
    perf-per-dollar column of an across-arch comparison. A comparison that judged nothing (no
    case paired, or every pair was measured on a noisy host) fails unless ``allow_empty``.
    """
    _check(base, cand, threshold, alpha)
    base_s, base_notes = collect(base, "base", prices)
    cand_s, cand_notes = collect(cand, "candidate", prices)
    matched = match(base_s, cand_s, across_arch)
    rule = Rule(threshold, alpha, across_arch)
    tests = [_test(b, c, rule) for b, c in matched]
    p_adj = bh_adjust([None if across_arch else t.p_value for t in tests])
    pairs = tuple(_pair(b, c, tests[i], p_adj[i], rule) for i, (b, c) in enumerate(matched))
    used = {id(s) for pair in matched for s in pair}
    unpaired = tuple(
        CaseNote(side, s.host.label, s.key.label, "unpaired", None, s.run_ids[0])
        for side, found in (("base", base_s), ("candidate", cand_s))
        for s in found.values()
        if id(s) not in used
    )
    ok = {(h.label, k.label) for h, k in base_s}
    broken = tuple(n for n in cand_notes if n.status == "failed" and (n.host, n.case) in ok)
    logs = [math.log(p.throughput_ratio) for p in pairs if p.throughput_ratio > 0]
    geomean = math.exp(sum(logs) / len(logs)) if logs else None
    failures = tuple(base_notes + cand_notes)
    broken = () if across_arch else broken
    empty = why_empty(pairs, base_s, cand_s, across_arch)
    return Comparison(pairs, unpaired, failures, broken, threshold, alpha, across_arch, geomean,
                      empty, allow_empty)  # fmt: skip


def exit_code(comparison: Comparison) -> int:
    """1 when the candidate regressed (slower beyond doubt, or a case broke) or nothing could
    be judged (unless allowed), else 0."""
    if comparison.empty and not comparison.allow_empty:
        return 1
    if comparison.across_arch:
        return 0
    return 1 if comparison.regressions or comparison.broken else 0
