"""The shared reading layer: each case of each run as an observation, keyed by host and case.

``compare`` pools observations per side; ``history`` orders them night by night. A case that
is not ok becomes a note saying why, so no reader drops one silently.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from harness.keys import CaseKey, HostKind
from harness.results import Run

SeriesId = tuple[HostKind, CaseKey]


@dataclass(frozen=True)
class Observation:
    """One ok case of one run: where it ran, what it was, and its raw rounds."""

    run: Run
    host: HostKind
    key: CaseKey
    median_s: float
    samples: tuple[float, ...]
    work: float | None
    created: str
    noisy: bool = False  # the harness saw steal or other load on the host during the case
    process_medians: tuple[float, ...] = ()  # one per worker process (harness.measure.pooling)

    def note(self, side: str) -> CaseNote:
        host, case = self.host.label, self.key.label
        return CaseNote(side, host, case, "noisy host", None, self.run.run_id)


@dataclass(frozen=True)
class CaseNote:
    """A case that was not compared or not measured: unpaired, failed or unfinished."""

    side: str
    host: str
    case: str
    status: str
    error: str | None = None
    run_id: str | None = None


def raw_samples(run: Run) -> dict[str, tuple[float, ...]]:
    """Every raw round per case id, from the run's pytest-benchmark file."""
    found: dict[str, tuple[float, ...]] = {}
    for bench in run.benchmarks.get("benchmarks", []):
        case = (bench.get("extra_info") or {}).get("case")
        if case is not None:
            found[str(case)] = tuple(float(x) for x in (bench.get("stats") or {}).get("data") or [])
    return found


def observations(runs: Sequence[Run], side: str = "") -> Iterator[Observation | CaseNote]:
    """Each case of each run: an observation when it is ok, otherwise a note saying why not."""
    for run in runs:
        host, samples = HostKind.of_environment(run.environment), raw_samples(run)
        for case in run.results:
            key, median = case.key, case.median_s
            if median is None:
                yield CaseNote(side, host.label, key.label, case.status, case.error, run.run_id)
                continue
            data, created = samples.get(case.id, ()), str(run.manifest.get("created"))
            medians = tuple(float(m) for m in case.outcome.get("process_medians") or (median,))
            yield Observation(
                run, host, key, float(median), data, case.work, created, case.noisy, medians
            )


def grouped(
    runs: Sequence[Run], side: str = "", drop_noisy: bool = False
) -> tuple[dict[SeriesId, list[Observation]], list[CaseNote]]:
    """Observations per host kind and case, in run order; the cases that were not ok aside."""
    found: dict[SeriesId, list[Observation]] = {}
    notes: list[CaseNote] = []
    for item in observations(runs, side):
        if isinstance(item, CaseNote) or (drop_noisy and item.noisy):
            notes.append(item if isinstance(item, CaseNote) else item.note(side))
        else:
            found.setdefault((item.host, item.key), []).append(item)
    return found, notes
