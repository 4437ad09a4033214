"""How a comparison reads: one verdict line, then its pairs and notes as text, markdown or JSON.

Regressions come first (worst first), then improvements, so a reader (or a GitHub job summary)
can stop at the first screen. JSON is strict (no NaN) and carries the exit code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from harness.analysis.compare import Comparison, Pair, exit_code
from harness.analysis.observations import CaseNote
from harness.analysis.tables import json_text, sections, table
from harness.errors import UserError
from harness.measure.sample_stats import Estimate
from harness.units import seconds
from harness.untrusted import markdown, plain

FORMATS = ("text", "markdown", "json")


def verdict_line(c: Comparison) -> str:
    """One line a reader can stop at: pass or fail, and why."""
    n, rule = len(c.pairs), f"threshold {c.threshold:.0%}, alpha {c.alpha:g} after BH"
    allowed = " (allowed by --allow-empty)" if c.allow_empty else ""
    if n == 0:
        return f"NOTHING COMPARED: {c.empty}{allowed}."
    if c.empty and not c.across_arch:
        return f"NOT JUDGED: {c.empty}; the numbers are listed, no verdict{allowed}."
    if c.across_arch:
        g = f"{c.geomean_throughput_ratio:.3f}x" if c.geomean_throughput_ratio else "n/a"
        return f"ACROSS ARCHITECTURES: {n} paired cases, geomean throughput {g} (no pass/fail)."
    if exit_code(c):
        counts = ((len(c.regressions), "regression(s)"), (len(c.broken), "broken case(s)"))
        bad = " and ".join(f"{k} {what}" for k, what in counts if k)
        return f"FAIL: {bad} in {n} paired cases ({rule})."
    noisy = sum(p.verdict == "noisy host" for p in c.pairs)
    single = sum(p.method != "processes" for p in c.pairs)
    unjudged = f", {noisy} change(s) on a noisy host not judged" if noisy else ""
    unjudged += f", {single} case(s) in one process not judged" if single else ""
    return f"PASS: no regression in {n} paired cases, {len(c.improvements)} improved{unjudged}."


def _ordered(pairs: Sequence[Pair]) -> list[Pair]:
    """Regressions first (worst first), then improvements (best first), then the rest."""
    rank = {"regression": 0, "improvement": 1, "noisy host": 2, "below threshold": 3}

    def key(p: Pair) -> tuple[int, float]:
        r = rank.get(p.verdict, 4)
        return (r, p.time_ratio if r == 1 else -p.time_ratio)

    return sorted(pairs, key=key)


def ratio_text(x: Estimate | float | None) -> str:
    """``1.234``, or with its interval ``1.234 [1.200, 1.270]``; ``n/a`` when unknown."""
    value = x.value if isinstance(x, Estimate) else x
    text = f"{value:.3f}" if value is not None and math.isfinite(value) else "n/a"
    if isinstance(x, Estimate) and x.has_interval:
        text += f" [{x.low:.3f}, {x.high:.3f}]"
    return text


def _pair_json(p: Pair) -> dict[str, Any]:
    """A pair as the JSON it has always been: ratios, their intervals as [low, high] lists."""
    plain = {k: v for k, v in asdict(p).items() if k not in ("time", "throughput")}
    return plain | {
        "time_ratio": p.time.value, "time_ci": list(p.time.bounds),
        "throughput_ratio": p.throughput.value, "throughput_ci": list(p.throughput.bounds),
        "interval": p.time.method,
    }  # fmt: skip


_TIMES = ["base median", "candidate median"]
_ACROSS = ["case", "base host", "candidate host", *_TIMES, "throughput ratio [95% CI]", "perf/$"]
_SAME = ["verdict", "case", "host", *_TIMES, "time ratio [95% CI]", "throughput ratio", "p (BH)"]


def _cells(p: Pair, across: bool) -> list[str]:
    times = [seconds(p.base_median_s), seconds(p.cand_median_s)]
    if across:
        ppd = ratio_text(p.perf_per_dollar) if p.perf_per_dollar else "no price"
        return [
            p.case,
            p.base_host,
            p.cand_host,
            *times,
            ratio_text(p.throughput),
            ppd,
        ]
    q = f"{p.p_adjusted:.2g}" if p.p_adjusted is not None else "n/a"
    ratio, tput = ratio_text(p.time), ratio_text(p.throughput_ratio)
    return [p.verdict, p.case, p.base_host, *times, ratio, tput, q]


def _notes(c: Comparison) -> list[tuple[str, list[str]]]:
    def line(n: CaseNote) -> str:
        why = f": {n.error}" if n.error else ""
        return f"{n.side} {n.case} on {n.host} ({n.status}, run {n.run_id}){why}"

    return [
        ("Broken (ok in base, failed in candidate)", [line(n) for n in c.broken]),
        ("Failed or unfinished", [line(n) for n in c.failures]),
        ("Unpaired", [line(n) for n in c.unpaired]),
    ]


def render(comparison: Comparison, fmt: str) -> str:
    """The comparison as ``text``, ``markdown`` (a GitHub job summary) or ``json``."""
    if fmt not in FORMATS:
        raise UserError(f"unknown compare format {fmt!r} (choose from {', '.join(FORMATS)})")
    c, line = comparison, verdict_line(comparison)
    if fmt == "json":
        notes = {k: [asdict(n) for n in getattr(c, k)] for k in ("broken", "failures", "unpaired")}
        settings = {k: getattr(c, k) for k in ("threshold", "alpha", "across_arch")}
        pairs = [_pair_json(p) for p in _ordered(c.pairs)]
        return json_text(
            {
                "verdict": line,
                "exit_code": exit_code(c),
                **settings,
                "geomean_throughput_ratio": c.geomean_throughput_ratio,
                "not_judged": c.empty,
                "pairs": pairs,
                **notes,
            }
        )
    out = [f"**{markdown(line)}**" if fmt == "markdown" else plain(line), ""]
    single = sum(p.method != "processes" for p in c.pairs)
    if single:
        out += [
            f"Note: {single} case(s) had one worker process on a side and are not judged: one "
            "process's rounds cannot show how much processes differ; measure with "
            "--processes 3 or more (default 5), or compare several runs per side.",
            "",
        ]
    if c.pairs:
        out += table(
            _ACROSS if c.across_arch else _SAME,
            [_cells(p, c.across_arch) for p in _ordered(c.pairs)],
            fmt,
        )
    return "\n".join(out + sections(_notes(c), fmt)) + "\n"
