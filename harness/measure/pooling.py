"""One case measured in several fresh processes: its rounds pooled, each process's median kept.

Rounds from one process agree with each other far better than with another process's: on this
project's 2-vCPU VM, tiny logprob_eval measured 235-300 us from one process to the next while
each process's own rounds agreed within 1%. A test on the rounds of one process per side takes
that spread for a change (an A/A comparison flagged 3 of 14 cases). So a run can measure every
case in ``--processes K`` workers, interleaved over the run (pass 1 of every workload, then
pass 2, ...); the medians of the processes are the replicates ``harness compare`` tests.
"""

from __future__ import annotations

from typing import Any

from pytest_benchmark.stats import Stats

from harness.measure.sample_stats import with_interval


def timing_share(timing: dict[str, Any], processes: int) -> dict[str, Any]:
    """Each process's part of the rounds and time budget.

    Each process still times at least 3 rounds (its median needs a middle), and warms up once:
    its first call (compile or cache load, then the check) has already run the kernel.
    """
    if processes <= 1:
        return dict(timing)
    return {
        **timing,
        "min_rounds": max(3, -(-int(timing["min_rounds"]) // processes)),
        "max_time": float(timing["max_time"]) / processes,
        "warmup_rounds": min(int(timing["warmup_rounds"]), 1),
    }


def _pooled_stats(data: list[float]) -> dict[str, Any]:
    pooled = Stats()
    for x in data:
        pooled.update(x)
    return {**pooled.as_dict(), "data": data}


def _worst_load(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """The busier of two processes' host-load readings: one noisy process makes the case noisy."""
    if not a or not b:
        return a or b
    return {
        "steal": max(a["steal"], b["steal"]),
        "other_load": max(a["other_load"], b["other_load"]),
        "noisy": bool(a["noisy"] or b["noisy"]),
    }


def combine(
    entry: dict[str, Any],
    prior: dict[str, Any] | None,
    record: dict[str, Any],
    bench: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """What a case's entry becomes when one more process reports ``record`` (None: unchanged).

    A case that failed in any process stays failed: a crash in pass 2 is still a crash. A later
    process's rounds are pooled with the earlier ones' (``merge``); a later failure is recorded
    as the case's failure, saying it came from a later process.
    """
    if entry.get("status") == "failed":
        return None
    if entry.get("status") == "ok" and prior is not None:
        if record.get("status") != "ok" or bench is None:
            return {**record, "error": f"a later process: {record.get('error')}"}, bench
        return merge(entry, prior, record, bench)
    return record, bench


def merge(
    entry: dict[str, Any],
    prior: dict[str, Any],
    record: dict[str, Any],
    bench: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fold another process's ``record`` and ``bench`` into a case already measured once.

    ``entry`` is the case's manifest entry and ``prior`` its pytest-benchmark entry so far. The
    cold compile time stays the first process's; the others load the kernel from the cache.
    """
    new_data = list(bench["stats"]["data"])
    data = list(prior["stats"]["data"]) + new_data
    medians = [*entry.get("process_medians", [entry["stats"]["median_s"]])]
    medians.append(record["stats"]["median_s"])
    pooled = {**record["stats"], "rounds": len(data), "min_s": min(data), "max_s": max(data)}
    stats = with_interval(pooled, data, medians)
    merged_record = {
        **record,
        "stats": stats,
        "process_medians": medians,
        "compile_s": entry.get("compile_s", record.get("compile_s")),
        "cache_load_s": record.get("cache_load_s") or entry.get("cache_load_s"),
        "elapsed_s": float(entry.get("elapsed_s") or 0.0) + float(record.get("elapsed_s") or 0.0),
        "host_load": _worst_load(entry.get("host_load"), record.get("host_load")),
    }
    sizes = [*prior["extra_info"].get("process_rounds", [len(prior["stats"]["data"])])]
    info = {**prior["extra_info"], "process_rounds": [*sizes, len(new_data)]}
    merged_bench = {**prior, "stats": {**bench["stats"], **_pooled_stats(data)}, "extra_info": info}
    return merged_record, merged_bench
