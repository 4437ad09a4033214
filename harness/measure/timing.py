"""One case, measured inside a worker process: compile, validate, then time.

The order is the point. The first call compiles (or loads from Numba's cache) and is timed on
its own; its output is checked against the plain reference before anything is timed, so a wrong
kernel fails the case and never yields a number; only then do pytest-benchmark's calibrated
rounds run, and every raw sample is kept.
"""

from __future__ import annotations

import hashlib
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from harness.host.profiles import kernel_isa
from harness.keys import CaseKey
from harness.measure.cold_compile import cold_compile_time, remember
from harness.measure.sample_stats import percentiles
from harness.workload import Workload


@dataclass(frozen=True)
class Timing:
    """How long and how often to time: pytest-benchmark's knobs, per case."""

    max_time: float = 1.0
    min_rounds: int = 5
    warmup_rounds: int = 2
    cold_compile: bool = True  # only a case's first process: the others' compile_s is dropped

    def exactly(self, rounds: int) -> Timing:
        """Exactly ``rounds`` timed rounds, whatever they take: a later process of a case times
        as many rounds as its first, so each process's median rests on the same count."""
        return Timing(0.0, rounds, self.warmup_rounds, cold_compile=False)


@dataclass(frozen=True)
class Check:
    """The outcome of comparing a kernel's output with its reference."""

    ok: bool
    max_abs_err: float
    max_rel_err: float
    message: str


def as_outputs(value: Any) -> list[np.ndarray[Any, Any]]:
    """A kernel's result as a list of arrays, whatever shape the kernel returned."""
    items = value if isinstance(value, tuple | list) else (value,)
    return [np.asarray(item) for item in items]


def compare(got: Any, expected: Any, rtol: float, atol: float) -> Check:
    """Integer and boolean outputs must be identical; floating ones within tolerance."""
    outs, refs = as_outputs(got), as_outputs(expected)
    if len(outs) != len(refs):
        return Check(False, np.inf, np.inf, f"{len(outs)} outputs, reference has {len(refs)}")
    worst_abs = worst_rel = 0.0
    for i, (out, ref) in enumerate(zip(outs, refs, strict=True)):
        if out.shape != ref.shape:
            return Check(False, np.inf, np.inf, f"output {i}: shape {out.shape} != {ref.shape}")
        if not np.issubdtype(ref.dtype, np.inexact):
            wrong = int(np.count_nonzero(out != ref))
            if wrong:
                return Check(False, np.inf, np.inf, f"output {i}: {wrong} of {ref.size} differ")
            continue
        diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
        if not np.all(np.isfinite(out)):
            return Check(False, np.inf, np.inf, f"output {i}: non-finite values")
        worst_abs = max(worst_abs, float(diff.max(initial=0.0)))
        scale = np.abs(ref.astype(np.float64))
        rel = diff / np.where(scale > 0, scale, 1.0)
        worst_rel = max(worst_rel, float(rel.max(initial=0.0)))
        if not np.allclose(out, ref, rtol=rtol, atol=atol):
            return Check(
                False,
                worst_abs,
                worst_rel,
                f"output {i}: max abs error {worst_abs:.3g}, max rel error {worst_rel:.3g} "
                f"exceed rtol={rtol:g} atol={atol:g}",
            )
    return Check(True, worst_abs, worst_rel, "")


def digest(value: Any) -> str:
    """SHA-256 over the outputs' dtypes, shapes and bytes: same seed, same digest."""
    h = hashlib.sha256()
    for out in as_outputs(value):
        h.update(f"{out.dtype.str}{out.shape}".encode())
        h.update(np.ascontiguousarray(out).tobytes())
    return h.hexdigest()


SAMPLE_POINTS = 64


def summarize(value: Any) -> list[dict[str, Any]]:
    """What a cross-architecture check needs of each output, without storing it whole.

    Integer and boolean outputs are compared by digest (they must be identical); floating ones
    by a strided sample of values and their sums, within the workload's tolerance.
    """
    summaries: list[dict[str, Any]] = []
    for out in as_outputs(value):
        flat = np.ascontiguousarray(out).reshape(-1)
        entry: dict[str, Any] = {"dtype": out.dtype.str, "shape": list(out.shape),
                                 "digest": digest(out)}  # fmt: skip
        if np.issubdtype(out.dtype, np.inexact) and flat.size:
            step = max(flat.size // SAMPLE_POINTS, 1)
            values = flat[::step][:SAMPLE_POINTS].astype(np.float64)
            entry.update(
                kind="float",
                sample=[float(v) for v in values],
                sum=float(flat.astype(np.float64).sum()),
                abs_sum=float(np.abs(flat.astype(np.float64)).sum()),
            )
        else:
            entry["kind"] = "exact"
        summaries.append(entry)
    return summaries


def first_call(kernel: Callable[..., Any], args: Sequence[Any]) -> tuple[float, Any, bool]:
    """Time the first call (compile or cache load); say whether Numba's cache served it."""
    hits_before = _cache_hits(kernel)
    start = time.perf_counter()
    result = kernel(*args)
    elapsed = time.perf_counter() - start
    return elapsed, result, _cache_hits(kernel) > hits_before


def _cache_hits(kernel: Callable[..., Any]) -> int:
    """How many signatures of a Numba dispatcher were loaded from its cache (0 for others)."""
    stats = getattr(kernel, "stats", None)
    return sum(stats.cache_hits.values()) if stats is not None else 0


class _QuietLogger:
    """pytest-benchmark wants a logger; the harness shows its own progress."""

    def debug(self, *args: Any, **kwargs: Any) -> None:
        pass

    info = warning = debug


def time_rounds(
    fn: Callable[..., Any],
    args: Sequence[Any],
    name: str,
    group: str,
    timing: Timing,
    extra_info: dict[str, Any],
) -> Any:
    """Calibrated rounds through pytest-benchmark; returns its fixture (stats and raw data)."""
    from pytest_benchmark.fixture import BenchmarkFixture
    from pytest_benchmark.utils import NameWrapper

    fixture = BenchmarkFixture(
        SimpleNamespace(name=name, nodeid=f"{group}::{name}"),
        disable_gc=False,
        timer=NameWrapper(time.perf_counter),
        min_rounds=timing.min_rounds,
        min_time=0.000005,
        max_time=timing.max_time,
        precision=None,
        confidence=None,
        warmup=timing.warmup_rounds > 0,
        warmup_iterations=timing.warmup_rounds,
        calibration_precision=10,
        add_stats=lambda stats: None,
        logger=_QuietLogger(),
        warner=lambda *a, **k: None,
        disabled=False,
        cprofile=False,
        cprofile_loops=None,
        cprofile_dump=None,
        group=group,
    )
    fixture.extra_info.update(extra_info)
    fixture(fn, *args)
    return fixture


def compiled_for() -> dict[str, str]:
    """The CPU name and features this worker's Numba actually compiles for."""
    import llvmlite.binding as llvm
    from numba.core import config

    name = config.CPU_NAME or llvm.get_host_cpu_name()
    features = config.CPU_FEATURES
    if features is None:
        features = llvm.get_host_cpu_features().flatten()
    return {"cpu_name": str(name), "cpu_features": str(features)}


def threading_layer() -> str | None:
    """The Numba threading layer in use, once a parallel kernel has run."""
    import numba

    try:
        return str(numba.threading_layer())
    except ValueError:
        return None


def measure(
    workload: Workload,
    key: CaseKey,
    n: int,
    inputs: tuple[Any, ...],
    timing: Timing,
    expected: Any = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Compile, validate and time one case; returns its record and pytest-benchmark entry.

    ``expected`` is the reference's output for these inputs when the caller already has it
    (a pure-Python reference can take seconds: it runs once per size, not once per case).
    """
    import numba

    mode, threads = key.mode, key.threads
    if mode == "rate":
        # Setting the count starts the threading layer. Never in a speed case: pinned to one
        # CPU, GNU OpenMP would start believing the process has one CPU and park its threads
        # between regions, which made tiny triad's rate case 10x slower after a speed case.
        numba.set_num_threads(threads)
    kernel = workload.kernel(mode)
    record: dict[str, Any] = {"status": "failed", "error": None}
    first_s, got, cache_hit = first_call(kernel, inputs)
    # A miss's first call is the cold compile; a cache hit's is a load, and a kernel compiled for
    # another size already runs at once: their cold compile is timed on fresh copies of the
    # kernel and its callees, which share no code with it (harness.measure.cold_compile).
    if not cache_hit:
        remember(kernel, inputs, first_s)
    record["compile_s"] = math.nan  # a later process: only the case's first compiles cold
    if timing.cold_compile:
        cold_s = cold_compile_time(kernel, inputs)
        record["compile_s"] = first_s if cold_s is None else cold_s
    record["cache_load_s"] = first_s if cache_hit else None
    if expected is None:
        expected = workload.reference(*inputs)
    check = compare(got, expected, workload.rtol, workload.atol)
    record["validation"] = {**asdict(check), "rtol": workload.rtol, "atol": workload.atol}
    record["digest"] = digest(got)
    record["outputs"] = summarize(got)
    record["threading_layer"] = threading_layer() if mode == "rate" else None
    record["vector_isa"] = kernel_isa(kernel, platform.machine())
    record["compiled_for"] = compiled_for()
    if not check.ok:
        record["error"] = f"output does not match the reference: {check.message}"
        return record, None
    info = {**key._asdict(), "n": n}
    fixture = time_rounds(kernel, inputs, key.bench_name(n), workload.name, timing, info)
    samples = list(fixture.stats.stats.data)
    # The interval is the runner's to add (harness.measure.sample_stats.with_interval):
    # scipy.stats costs a worker half a second or more to import, paid once per process.
    record.update(
        status="ok",
        stats={
            "median_s": float(np.median(samples)),
            "rounds": len(samples),
            "iterations": fixture.stats.iterations,
            "min_s": min(samples),
            "max_s": max(samples),
        },
    )
    if mode == "speed" and workload.steps is not None:
        record["latency"] = step_latency(workload.steps, inputs)
    return record, fixture.stats.as_dict(include_data=True)


def step_latency(steps: Callable[..., Sequence[float]], inputs: Sequence[Any]) -> dict[str, Any]:
    """Per-step latency percentiles of one step-by-step session (agent steps, decoded tokens)."""
    latencies = list(steps(*inputs))
    return {**percentiles(latencies), "steps": len(latencies)}
