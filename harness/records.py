"""The typed records of a manifest's cases: each case as planned, and as measured.

A manifest case is one JSON object that grows as the case runs: the plan (what to measure),
then the worker's outcome (status, checks, compile times), then the runner's statistics (the
median time and its interval, pooled over processes). ``CaseResult`` reads any stage of it
and writes it back (``from_json``/``to_json``); readers use it rather than indexing dicts, and
throughput, the one figure derived from the others, is computed here only.

Keys this version does not model are kept in ``extra`` and written back unchanged, so a file
read and rewritten (``harness run --resume``) loses nothing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from harness.keys import CaseKey
from harness.measure.sample_stats import Estimate


def throughput(work: float, seconds: float) -> float:
    """Units of work per second; NaN when the time is not a positive number.

    The one definition: the manifest's throughput, export rows, the report and every interval
    derived from a time (``pricing.arithmetic``) use it.
    """
    return work / seconds if seconds > 0 else math.nan


@dataclass(frozen=True)
class PlannedCase:
    """A case as the manifest plans it before it runs; a reset case goes back to exactly this."""

    id: str
    workload: str
    size: str
    n: int
    mode: str
    threads: int
    profile: str
    category: str
    unit: str
    bound: str
    work: float
    bytes: float
    flops: float
    status: str = "pending"
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


PLANNED_KEYS = frozenset(f.name for f in fields(PlannedCase))


@dataclass(frozen=True)
class CaseStats:
    """A case's timing: the median time with its interval, and the rounds behind it."""

    median_s: float
    rounds: int = 0
    iterations: int | None = None
    min_s: float | None = None
    max_s: float | None = None
    ci_low_s: float | None = None  # the runner adds the interval; a worker's record has none
    ci_high_s: float | None = None
    ci_method: str | None = None
    within_median_s: float | None = None  # the rounds' own median and interval: one process's
    within_low_s: float | None = None  # precision, not the case's
    within_high_s: float | None = None

    @property
    def time(self) -> Estimate:
        """The median time as an estimate (NaN bounds until the interval is added)."""
        low, high = (math.nan if v is None else float(v) for v in (self.ci_low_s, self.ci_high_s))
        return Estimate(self.median_s, low, high, self.rounds, self.ci_method or "")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseStats:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


_OUTCOME = (
    "compile_s", "cache_load_s", "elapsed_s", "validation", "digest", "outputs",
    "threading_layer", "vector_isa", "compiled_for", "host_load", "latency", "process_medians",
    "precision",
)  # fmt: skip


@dataclass(frozen=True)
class CaseResult:
    """A manifest case at any stage: its plan, its outcome and its statistics.

    Plan fields an old or hand-written manifest lacks read as None (the loader requires only
    the id); ``key`` fills threads and profile the way every reader does (1, native).
    """

    id: str
    key: CaseKey
    status: str
    error: str | None = None
    plan: Mapping[str, Any] = field(default_factory=dict)  # n, category, unit, bound, work...
    stats: CaseStats | None = None
    outcome: Mapping[str, Any] = field(default_factory=dict)  # the _OUTCOME keys present
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> CaseResult:
        planned = PLANNED_KEYS - {"id", "status", "error"}
        stats = entry.get("stats")
        modelled = {*PLANNED_KEYS, *_OUTCOME, "stats", "throughput"}
        return cls(
            id=str(entry["id"]),
            key=CaseKey.of(entry),
            status=str(entry.get("status")),
            error=entry.get("error"),
            plan={k: entry[k] for k in planned if k in entry},
            stats=CaseStats.from_json(stats) if isinstance(stats, Mapping) else None,
            outcome={k: entry[k] for k in _OUTCOME if k in entry},
            extra={k: v for k, v in entry.items() if k not in modelled},
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest entry: plan, outcome, statistics and the throughput derived from them."""
        entry: dict[str, Any] = {"id": self.id, **self.plan, "status": self.status}
        entry |= {"error": self.error, **self.outcome, **self.extra}
        if self.stats is not None:
            entry["stats"] = self.stats.to_json()
        if self.ok:
            entry["throughput"] = self.throughput
        return entry

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.stats is not None

    @property
    def work(self) -> float | None:
        work = self.plan.get("work")
        return float(work) if work else None

    @property
    def median_s(self) -> float | None:
        return self.stats.median_s if self.ok and self.stats is not None else None

    @property
    def throughput(self) -> float:
        """Units of work per second at the median time; NaN for a case without one."""
        median, work = self.median_s, self.work
        return throughput(work, median) if work is not None and median else math.nan

    @property
    def processes(self) -> int:
        """How many worker processes this case's figures come from (0 until one succeeds)."""
        if not self.ok:
            return 0
        return len(self.outcome.get("process_medians") or ()) or 1

    @property
    def process_log_sd(self) -> float:
        """Standard deviation of the logs of the processes' medians (NaN under two processes):
        the between-process spread that summaries resample."""
        medians = [float(m) for m in self.outcome.get("process_medians") or ()]
        if not self.ok or len(medians) < 2 or min(medians) <= 0:
            return math.nan
        return statistics.stdev(math.log(m) for m in medians)

    @property
    def noisy(self) -> bool:
        """The harness saw steal or other load on the host while the case ran."""
        return bool((self.outcome.get("host_load") or {}).get("noisy"))
