"""Which cases of two sides pair, and, when none does or none can be judged, why.

Pairs need the same host kind and the same case (``keys``); across architectures every base
host pairs with every candidate host on the same case. When nothing pairs, the reason names
the fields whose values kept the sides apart (a runner whose CPU changed, another profile).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from harness.analysis.observations import SeriesId

if TYPE_CHECKING:
    from harness.analysis.compare import Pair, Series


def match(
    base: dict[SeriesId, Series], cand: dict[SeriesId, Series], across_arch: bool
) -> list[tuple[Series, Series]]:
    """Same host kind and case; across architectures, every base host with every cand host."""
    if not across_arch:
        return [(base[k], cand[k]) for k in sorted(base.keys() & cand.keys())]
    both = [(b, c) for b in base.values() for c in cand.values() if b.key == c.key]
    return sorted(both, key=lambda bc: (bc[0].key, bc[0].host, bc[1].host))


def _differing(parts: Sequence[str], base: set[tuple[str, ...]], cand: set[tuple[str, ...]]) -> str:
    """The fields whose values differ between two sets of keys, each with both sides' values."""
    said = []
    for i, name in enumerate(parts):
        b, c = sorted({k[i] for k in base}), sorted({k[i] for k in cand})
        if b != c:
            said.append(f"{name} (base: {', '.join(b)}; candidate: {', '.join(c)})")
    return "; ".join(said) or "nothing in common"


def why_empty(
    pairs: Sequence[Pair], base: Mapping[SeriesId, Series], cand: Mapping[SeriesId, Series],
    across_arch: bool,
) -> str | None:  # fmt: skip
    """Why nothing could be judged, naming the fields that kept cases apart; None if judged."""
    if pairs and (across_arch or not all(p.noisy or p.method != "processes" for p in pairs)):
        return None
    if pairs:
        return _unjudged(pairs)
    if not base or not cand:
        return f"the {'base' if not base else 'candidate'} has no successful case"
    host_b, host_c = {tuple(h) for h, _ in base}, {tuple(h) for h, _ in cand}
    if not across_arch and host_b.isdisjoint(host_c):
        kind = _differing(("arch", "CPU", "LLVM CPU", "instance type"), host_b, host_c)
        return f"no case ran on the same kind of machine: {kind}"
    case_b, case_c = {tuple(map(str, k)) for _, k in base}, {tuple(map(str, k)) for _, k in cand}
    case = _differing(("workload", "size", "mode", "threads", "profile"), case_b, case_c)
    return f"no case is the same in both: {case}"


def _unjudged(pairs: Sequence[Pair]) -> str:
    """Why none of the pairs got a verdict: noisy hosts, or one process on a side."""
    noisy = sum(p.noisy for p in pairs)
    single = sum(p.method != "processes" and not p.noisy for p in pairs)
    why = [f"{noisy} measured on a noisy host"] if noisy else []
    if single:
        why.append(f"{single} with one worker process on a side (use --processes 3 or more)")
    return f"none of the {len(pairs)} paired cases could be judged: {'; '.join(why)}"
