"""The result files' schema: each field a reader uses, with its type, checked once at load.

A manifest or ``benchmarks.json`` that has the right schema version can still hold a string
where a number belongs, a list for a section, a NaN median or a 1e308 amount of work that
turns every throughput into infinity. ``problem`` walks a file against a spec and returns the
first such field as ``path is VALUE, expected WHAT`` (``cases[3].stats.median_s is 'x',
expected a time in seconds``), so the loader refuses the file in one line before any reader
indexes it. Fields no reader uses are not checked: a newer harness may add keys freely.

Numbers are bounded, not just typed: times lie in [1e-30, 1e30] s and amounts of work,
bytes and flops are 0 or in [1e-30, 1e30], so every ratio a reader derives from them (a
throughput, a bandwidth, a cost per million units) stays finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

LIMIT = 1e30  # largest magnitude of a bounded number; 1 / LIMIT the smallest positive one
MAX_DEPTH = 64  # deepest nesting of lists and objects a result file may have


class Spec(Protocol):
    def problem(self, value: Any, path: str) -> str | None:
        """Why ``value`` at ``path`` does not fit, or None when it does."""


def show(value: Any) -> str:
    """A value as a message quotes it: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


@dataclass(frozen=True)
class Leaf:
    """A scalar field: what it must be (for the message), and the test of it."""

    expected: str
    test: Callable[[Any], bool]

    def problem(self, value: Any, path: str) -> str | None:
        return None if self.test(value) else f"{path} is {show(value)}, expected {self.expected}"


@dataclass(frozen=True)
class Opt:
    """A field that may also be null (absent fields are the object's business)."""

    spec: Spec

    def problem(self, value: Any, path: str) -> str | None:
        return None if value is None else self.spec.problem(value, path)


@dataclass(frozen=True)
class ListOf:
    """A list whose every item fits ``item``."""

    item: Spec

    def problem(self, value: Any, path: str) -> str | None:
        if not isinstance(value, list):
            return f"{path} is {show(value)}, expected a list"
        return _first(self.item.problem(v, f"{path}[{i}]") for i, v in enumerate(value))


@dataclass(frozen=True)
class MapOf:
    """An object with free keys (each fitting ``key``) whose every value fits ``value``."""

    value: Spec
    key: Leaf | None = None

    def problem(self, value: Any, path: str) -> str | None:
        if not isinstance(value, dict):
            return f"{path} is {show(value)}, expected an object"
        keys = (self.key.problem(k, f"{path} key") for k in value) if self.key else ()
        values = (self.value.problem(v, f"{path}.{k}") for k, v in value.items())
        return _first(keys) or _first(values)


@dataclass(frozen=True)
class Obj:
    """An object with named fields: those in ``required`` must be there; unknown keys pass
    unless ``closed``. ``when`` = (key, value, fields): more required fields when key == value."""

    fields: Mapping[str, Spec]
    required: Sequence[str] = ()
    closed: bool = False
    when: tuple[str, Any, Sequence[str]] | None = None

    def problem(self, value: Any, path: str) -> str | None:
        if not isinstance(value, dict):
            return f"{path or 'the file'} is {show(value)}, expected an object"
        required = list(self.required)
        if self.when is not None and value.get(self.when[0]) == self.when[1]:
            required += self.when[2]
        missing = next((k for k in required if k not in value), None)
        if missing is not None:
            return f"{_join(path, missing)} is missing"
        unknown = next((k for k in value if k not in self.fields), None) if self.closed else None
        if unknown is not None:
            return f"{_join(path, str(unknown))} is not a known field"
        checks = (s.problem(value[k], _join(path, k)) for k, s in self.fields.items() if k in value)
        return _first(checks)


def _first(problems: Any) -> str | None:
    return next((p for p in problems if p is not None), None)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def too_deep(value: Any, limit: int = MAX_DEPTH) -> str | None:
    """The path of a list or object nested deeper than ``limit``, or None (walked without
    recursion, so any depth json.loads returned is safe to look at)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > limit:
            return path or "the file"
        if isinstance(item, dict):
            stack.extend((v, _join(path, str(k)), depth + 1) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _bounded(v: Any) -> bool:
    """A number that is NaN (not measured) or finite and at most LIMIT in magnitude."""
    return _is_number(v) and (math.isnan(v) or abs(v) <= LIMIT)


def _time(v: Any) -> bool:
    return _is_number(v) and 1 / LIMIT <= v <= LIMIT


def _amount(v: Any) -> bool:
    return _is_number(v) and (v == 0 or 1 / LIMIT <= v <= LIMIT)


def _int(low: int) -> Leaf:
    word = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer >= {low}")
    return Leaf(word, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low)


STR = Leaf("a string", lambda v: isinstance(v, str))
BOOL = Leaf("true or false", lambda v: isinstance(v, bool))
INT = Leaf("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
COUNT, POSITIVE = _int(0), _int(1)
ANY_NUMBER = Leaf("a number", _is_number)
NUMBER = Leaf(f"a number of magnitude at most {LIMIT:g} (or NaN)", _bounded)
TIME = Leaf(f"a time in seconds between {1 / LIMIT:g} and {LIMIT:g}", _time)
AMOUNT = Leaf(f"0 or a number between {1 / LIMIT:g} and {LIMIT:g}", _amount)
SAMPLE = Leaf(f"a time in seconds: 0 or between {1 / LIMIT:g} and {LIMIT:g}", _amount)
THREADS_KEY = Leaf("a thread count such as '1'", lambda k: isinstance(k, str) and k.isdigit())


def opt_fields(**specs: Spec) -> dict[str, Spec]:
    """Fields that may each be null."""
    return {k: Opt(s) for k, s in specs.items()}


def strings(*names: str) -> dict[str, Spec]:
    """Fields that are each a string or null."""
    return opt_fields(**dict.fromkeys(names, STR))


CPU = strings("vendor", "name", "family", "core", "expected_llvm_cpu", "model_name")
SOFTWARE = strings("python", "numba", "llvmlite", "numpy", "scipy", "threading_layer")
TOPOLOGY = ("vcpus", "usable_cpus", "physical_cores", "threads_per_core", "sockets")
# Topology may not be null: a reader falls back only for its absence (env.get("topology", {}))
ENVIRONMENT = Obj(
    {
        **strings("host", "arch"),
        "emulated": Opt(BOOL),
        "memory_bytes": Opt(AMOUNT),
        "cpu": Opt(Obj(CPU | opt_fields(candidates=ListOf(STR), known=BOOL))),
        "llvm": Opt(
            Obj(strings("host_cpu", "host_features", "cpu_name", "cpu_features", "version"))
        ),
        "topology": Obj(opt_fields(**dict.fromkeys(TOPOLOGY, POSITIVE))),
        "cloud": Opt(Obj(strings("cloud", "instance_type", "source"))),
        "os": Opt(Obj(strings("name", "kernel"))),
        "software": Opt(Obj(SOFTWARE | {"blas": Opt(ListOf(Obj({})))})),
    }
)

TIMING = Obj(
    {"max_time": NUMBER, "min_rounds": COUNT, "warmup_rounds": COUNT, "cold_compile": BOOL},
    required=("max_time", "min_rounds", "warmup_rounds"),
    closed=True,
)
OPTIONS = Obj(
    {
        "seed": INT,
        "timing": TIMING,
        "timeout_s": TIME,
        "threads": POSITIVE,
        **strings("cache_dir", "arch", "replicates"),
        **opt_fields(python=ListOf(STR), workload_paths=ListOf(STR), speed_cpu=COUNT),
        **opt_fields(processes=POSITIVE, max_processes=COUNT, wait_quiet_s=NUMBER),
        **opt_fields(ci_target=NUMBER, ci_budget_s=NUMBER, price=NUMBER),
    }
)
PROFILE = Obj({"cpu_name": STR, "cpu_features": STR}, required=("cpu_name", "cpu_features"),
              closed=True)  # fmt: skip
ROOFS = MapOf(Opt(NUMBER), key=THREADS_KEY)
ROOFLINE = Obj(
    dict.fromkeys(("triad_gbs", "fma_gflops", "sgemm_gflops"), ROOFS)
    | opt_fields(llc_bytes=NUMBER, error=STR)
)

STATS = Obj(
    {
        "median_s": TIME,
        "rounds": COUNT,
        **opt_fields(iterations=COUNT, ci_low_s=TIME, ci_high_s=TIME, ci_method=STR),
        **opt_fields(**dict.fromkeys(("min_s", "max_s", "within_median_s"), NUMBER)),
        **opt_fields(within_low_s=NUMBER, within_high_s=NUMBER),
    },
    required=("median_s",),
)
OUTPUT = Obj(
    {
        "dtype": STR,
        "shape": ListOf(COUNT),
        "digest": STR,
        "kind": Opt(STR),
        "sample": ListOf(ANY_NUMBER),  # kernel outputs may hold inf (a log of 0) or NaN
        "sum": ANY_NUMBER,
        "abs_sum": ANY_NUMBER,
    },
    required=("dtype", "shape", "digest"),
    when=("kind", "float", ("sample", "sum", "abs_sum")),
)
CASE = Obj(
    {
        "id": STR,
        **strings("workload", "size", "mode", "profile", "status", "error", "category"),
        **strings("unit", "bound", "digest", "threading_layer", "vector_isa"),
        **opt_fields(threads=POSITIVE, n=COUNT, work=AMOUNT, bytes=AMOUNT, flops=AMOUNT),
        **opt_fields(compile_s=NUMBER, cache_load_s=NUMBER, elapsed_s=NUMBER),
        "validation": Opt(Obj(opt_fields(ok=BOOL, message=STR))),
        "outputs": Opt(ListOf(OUTPUT)),
        "compiled_for": Opt(Obj(strings("cpu_name", "cpu_features"))),
        "host_load": Opt(Obj(opt_fields(steal=NUMBER, other_load=NUMBER, noisy=BOOL))),
        "latency": Opt(MapOf(Opt(NUMBER))),
        "process_medians": Opt(ListOf(TIME)),
        "precision": Opt(Obj(opt_fields(target=NUMBER, half_width=NUMBER, met=BOOL))),
        "stats": Opt(STATS),
    },
    required=("id",),
)
MANIFEST = Obj(
    {
        "run_id": STR,
        "environment": ENVIRONMENT,
        "cases": ListOf(CASE),
        **strings("harness_version", "created", "finished", "status"),
        "argv": Opt(ListOf(STR)),
        "options": Opt(OPTIONS),
        "profiles": Opt(MapOf(PROFILE)),
        "roofline": Opt(ROOFLINE),
        "adaptive": Opt(Obj(opt_fields(budget_s=NUMBER, spent_s=NUMBER, stopped=STR))),
    },
    required=("run_id", "environment", "cases"),
)
# What ``harness run --resume`` needs on top: the options and profiles it runs the rest with,
# and each case's plan (which workload, at which n).
RESUMABLE = Obj(
    {
        "options": Obj(OPTIONS.fields, required=("seed", "timing", "timeout_s", "threads")),
        "profiles": MapOf(PROFILE),
        "cases": ListOf(Obj({}, required=("workload", "size", "mode", "n"))),
    },
    required=("options", "profiles"),
)

BENCHMARK = Obj(
    {
        **strings("name", "fullname", "group"),
        "extra_info": Obj(opt_fields(case=STR, process_rounds=ListOf(COUNT))),
        "stats": Opt(Obj({"data": Opt(ListOf(SAMPLE))})),
    },
    required=("extra_info",),
)
INFO = opt_fields(machine_info=Obj({}), commit_info=Obj({}))
BENCHMARKS = Obj({"benchmarks": ListOf(BENCHMARK)} | INFO, required=("benchmarks",))
