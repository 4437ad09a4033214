"""History: the runs as per-case series over nights, and the nights where a series stepped.

Change points, and why this method. A series is one case on one kind of machine, a point per
run (night). Its evidence is the nightly median, not raw rounds: rounds of a night share that
night's machine, so pooling them across nights calls ordinary night-to-night drift
significant. Nights the harness flagged noisy (steal, other load) are left out. On the log
nightly medians:

- Binary segmentation: place one split point, else two (a change later undone, which one split
  cannot see); keep them if significant and large enough; look again inside each segment.
- A placement costs the absolute deviation from its segment medians (L1): magnitude-aware, so
  it names the right night (a rank statistic placed steps a night late when the first new
  night ranked next to the old level), and robust to one bad night.
- The p-value is a permutation test: the best placement against the best placement in
  shuffled nights, so searching every placement is paid for, with no noise model. The one-
  and two-split tests split ``alpha`` (Bonferroni); shuffling stops once a series is clearly
  flat (about 10 ms for 14 nights; under a second for 60 nights with a step).
- ``alpha`` 0.01, segments of at least 3 nights, and a step must move the median of segment
  medians by more than ``threshold`` (5%, as ``compare``). On flat series with 3% lognormal
  night noise and 2x bad nights, under 1% of series show a false step. The price: a step needs
  about 4 nights on each side; the newest night is ``compare``'s job. No Benjamini-Hochberg
  across series: 12 nights cannot reach p below about 0.003, so it would hide every
  single-case step. PELT was the alternative; its penalty needs a noise variance that a dozen
  nights estimate badly, while the permutation test needs none.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np

from harness.analysis.observations import CaseNote, Observation, grouped
from harness.analysis.tables import json_text, sections, table
from harness.errors import UserError
from harness.keys import CaseKey, HostKind
from harness.results import Run
from harness.units import seconds
from harness.untrusted import markdown, plain

FORMATS = ("text", "markdown", "json")

Splits = tuple[int, ...]
Found = tuple[int, float, float]  # first night at the new level, p-value, time ratio


@dataclass(frozen=True)
class Night:
    """One point of a series: the run, when it ran, its median and raw rounds."""

    run_id: str
    created: str
    median_s: float
    samples: tuple[float, ...]


@dataclass(frozen=True)
class Step:
    """A lasting change of level: the first night at the new level and its size."""

    night: int
    run_id: str
    created: str
    previous_run_id: str
    ratio: float
    p_value: float


@dataclass(frozen=True)
class CaseHistory:
    """One case on one kind of host, night by night, and the steps found in it."""

    host: str
    case: str
    nights: tuple[Night, ...]
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class History:
    """Every series of the runs, oldest night first, and the settings that judged them."""

    series: tuple[CaseHistory, ...]
    run_ids: tuple[str, ...]
    failures: tuple[CaseNote, ...]
    threshold: float
    alpha: float

    @property
    def steps(self) -> list[tuple[CaseHistory, Step]]:
        return [(s, step) for s in self.series for step in s.steps]


def _created(run: Run) -> datetime:
    text = str(run.manifest.get("created") or "")
    try:
        created = datetime.fromisoformat(text)
        return created if created.tzinfo else created.replace(tzinfo=UTC)
    except ValueError:
        raise UserError(f"{run.path}: bad created time {text!r}") from None


def placements(n: int, m: int, count: int) -> list[Splits]:
    """Every way to put ``count`` split points in n nights, each segment at least m long."""
    if count == 1:
        return [(k,) for k in range(m, n - m + 1)]
    return [(i, j) for i in range(m, n - 2 * m + 1) for j in range(i + m, n - m + 1)]


def costs(x: np.ndarray, splits: list[Splits]) -> np.ndarray:
    """L1 cost of each placement (columns) for each row of x.

    The cost is the absolute deviation from each segment's median: medians and absolute
    deviations let one bad night (a noisy neighbour, a throttled runner) barely move it.
    """
    n = x.shape[-1]
    bounds = [list(itertools.pairwise((0, *s, n))) for s in splits]
    segments = {seg for b in bounds for seg in b}
    cost = {
        (a, b): np.abs(x[:, a:b] - np.median(x[:, a:b], axis=1, keepdims=True)).sum(axis=1)
        for a, b in segments
    }
    return np.stack([sum(cost[seg] for seg in b) for b in bounds], axis=1)


def split_test(
    x: np.ndarray, count: int, det: Detector, rng: np.random.Generator
) -> tuple[Splits, float]:
    """The best placement of ``count`` split points in x, and its permutation p-value.

    The p-value compares the best placement's cost with the best placement in the same nights
    shuffled, so it accounts for having searched every placement. Shuffles come in batches
    and stop once the p-value can no longer reach ``alpha`` (most series are flat).
    """
    splits = placements(len(x), det.min_size, count)
    observed = costs(x[None, :], splits)[0]
    best = observed.min()
    hits = done = 0
    level = det.alpha / 2  # Bonferroni over the one- and the two-split test
    while done < det.n_permutations and hits < level * det.n_permutations:
        batch = min(200, det.n_permutations - done)
        shuffled = rng.permuted(np.tile(x, (batch, 1)), axis=1)
        hits += int(np.sum(costs(shuffled, splits).min(axis=1) <= best + 1e-12))
        done += batch
    return splits[int(np.argmin(observed))], min(1.0, 2 * (1 + hits) / (1 + done))


def _ratio(x: np.ndarray, lo: int, mid: int, hi: int) -> float:
    """Median time after over median time before, from log nightly medians."""
    return float(np.exp(np.median(x[mid:hi]) - np.median(x[lo:mid])))


@dataclass(frozen=True)
class Detector:
    """Binary segmentation of log nightly medians, each split permutation-tested."""

    threshold: float = 0.05
    alpha: float = 0.01
    min_size: int = 3
    n_permutations: int = 5000
    seed: int = 0

    def change_points(self, medians: Sequence[float], salt: int = 0) -> list[Found]:
        """(first night at the new level, p-value, time ratio) of each step, in order."""
        x = np.log(np.asarray(medians, dtype=float))
        found = sorted(self._segment(x, 0, len(x), salt))
        bounds = [0, *(i for i, _ in found), len(x)]
        # Size each step against its final neighbours, and drop those that shrank below it.
        sized = [(i, p, _ratio(x, bounds[j], i, bounds[j + 2])) for j, (i, p) in enumerate(found)]
        return [step for step in sized if self._big(step[2])]

    def _big(self, ratio: float) -> bool:
        return abs(math.log(ratio)) > math.log1p(self.threshold)

    def _segment(self, x: np.ndarray, lo: int, hi: int, salt: int) -> list[tuple[int, float]]:
        """Split [lo, hi) at one point, else at two (a change later undone), then recurse."""
        rng = np.random.default_rng([self.seed, salt, lo, hi])
        for count in (1, 2):
            if hi - lo < (count + 1) * self.min_size:
                return []
            splits, p = split_test(x[lo:hi], count, self, rng)
            bounds = (lo, *(lo + s for s in splits), hi)
            steps = [_ratio(x, *bounds[i : i + 3]) for i in range(count)]
            if p <= self.alpha and all(self._big(r) for r in steps):
                parts = itertools.pairwise(bounds)
                inner = [cp for a, b in parts for cp in self._segment(x, a, b, salt)]
                return sorted([*inner, *((b, p) for b in bounds[1:-1])])
        return []


def _case_history(
    host: HostKind, key: CaseKey, obs: list[Observation], det: Detector
) -> CaseHistory:
    nights = [Night(o.run.run_id, o.created, o.median_s, o.samples) for o in obs]
    points = det.change_points(
        [n.median_s for n in nights], zlib.crc32(repr((tuple(host), tuple(key))).encode())
    )
    steps = (
        Step(i, nights[i].run_id, nights[i].created, nights[i - 1].run_id, r, p)
        for i, p, r in points
    )
    return CaseHistory(host.label, key.label, tuple(nights), tuple(steps))


def history(
    runs: Sequence[Run],
    threshold: float = 0.05,
    alpha: float = 0.01,
    n_permutations: int = 5000,
    seed: int = 0,
) -> History:
    """Order the runs by creation time and look for lasting steps in every case's series."""
    if not runs:
        raise UserError("no runs to read a history from (empty list)")
    if not 0 < alpha < 1:
        raise UserError(f"alpha {alpha!r} must lie between 0 and 1")
    ordered = sorted(runs, key=lambda r: (_created(r), r.run_id))
    det = Detector(threshold, alpha, n_permutations=n_permutations, seed=seed)
    series, failures = grouped(ordered, drop_noisy=True)  # a noisy night is no evidence
    cases = tuple(_case_history(h, k, obs, det) for (h, k), obs in sorted(series.items()))
    return History(cases, tuple(r.run_id for r in ordered), tuple(failures), threshold, alpha)


def sparkline(values: Sequence[float]) -> str:
    """The shape of a series in block characters (taller is slower)."""
    blocks = "▁▂▃▄▅▆▇█"
    lo, hi = min(values), max(values)
    if hi <= lo * 1.001:
        return blocks[3] * len(values)
    return "".join(blocks[min(7, int((v - lo) / (hi - lo) * 8))] for v in values)


def _verdict(h: History) -> str:
    steps, where = h.steps, f"{len(h.run_ids)} runs ({h.run_ids[0]} .. {h.run_ids[-1]})"
    found = f"{len(steps)} STEP(S) ({sum(s.ratio > 1 for _, s in steps)} slower)"
    return f"{found if steps else 'NO STEP'} in {len(h.series)} series over {where}."


def render(h: History, fmt: str) -> str:
    """The history as ``text``, ``markdown`` or ``json``."""
    if fmt not in FORMATS:
        raise UserError(f"unknown history format {fmt!r} (choose from {', '.join(FORMATS)})")
    if fmt == "json":
        data = {"verdict": _verdict(h), "threshold": h.threshold, "alpha": h.alpha}
        return json_text({**data, **asdict(h)})
    out = [f"**{markdown(_verdict(h))}**" if fmt == "markdown" else plain(_verdict(h))]
    if h.steps:
        head = ["case", "host", "night", "run", "previous run", "ratio (time)", "p"]
        rows = [[s.case, s.host, str(st.night + 1), st.run_id, st.previous_run_id,
                 f"{st.ratio:.3f} ({'slower' if st.ratio > 1 else 'faster'})", f"{st.p_value:.2g}"]
                for s, st in h.steps]  # fmt: skip
        out += ["", *table(head, rows, fmt)]
    head = ["case", "host", "nights", "first", "last", "trend"]
    rows = [[s.case, s.host, str(len(s.nights)), seconds(s.nights[0].median_s),
             seconds(s.nights[-1].median_s), sparkline([n.median_s for n in s.nights])]
            for s in h.series]  # fmt: skip
    notes = [f"{n.case} on {n.host} ({n.status}, run {n.run_id})" for n in h.failures]
    out += ["", *table(head, rows, fmt), *sections([("Failed, unfinished or noisy", notes)], fmt)]
    return "\n".join(out) + "\n"
