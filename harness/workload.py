"""The workload contract, and discovery of workloads by convention.

A workload is a module whose module-level ``WORKLOAD`` is a :class:`Workload`. Modules are found
in the ``workloads`` package and in any extra directory the user names; nothing registers itself.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, get_args

from harness.errors import UserError

Category = Literal["preprocess", "embed", "evaluate", "agent", "probe"]
Bound = Literal["memory", "compute", "latency", "integer"]
SIZES: tuple[str, ...] = ("tiny", "small", "default", "large")
MODES: tuple[str, ...] = ("speed", "rate")
CATEGORIES: tuple[str, ...] = get_args(Category)
BOUNDS: tuple[str, ...] = get_args(Bound)

Kernel = Callable[..., Any]


@dataclass(frozen=True)
class Workload:
    """One workload, declared as data.

    ``sizes`` maps each size name to the workload's size parameter ``n``; ``work``, ``bytes``
    and ``flops`` give the units of work, bytes moved and floating-point operations of one call
    at that ``n``. ``speed`` is the single-stream kernel, ``rate`` the ``parallel=True`` one;
    both take the tuple from ``make_inputs`` unpacked and must return what ``reference`` returns
    (an array, a scalar, or a tuple of them). Integer and boolean outputs must match exactly,
    floating ones within ``rtol``/``atol``.

    ``baseline`` is what a user would write instead (vectorized NumPy); ``make perf`` times the
    kernels against it, and it defaults to ``reference``. ``steps``, for latency workloads,
    runs the speed form once step by step and returns each step's latency in seconds, from
    which results report p50/p90/p99.

    ``bound`` says which measured roof a case is read against: ``memory`` the triad bandwidth,
    ``compute`` the FMA peak, ``latency`` none. ``integer`` is work whose operations are
    integer (hashing, tokenizing, graph search): no FLOP roof fits it, so its ``flops`` counts
    integer operations (nominal where there is no meaningful count) and it is never placed on
    the GFLOP/s roofline nor given a fraction of the FMA peak.
    """

    name: str
    category: Category
    description: str
    unit: str
    bound: Bound
    sizes: Mapping[str, int]
    work: Callable[[int], float]
    bytes: Callable[[int], float]
    flops: Callable[[int], float]
    make_inputs: Callable[[int, Any], tuple[Any, ...]]
    speed: Kernel
    rate: Kernel
    reference: Kernel
    rtol: float = 1e-6
    atol: float = 0.0
    baseline: Kernel | None = None
    steps: Callable[..., Sequence[float]] | None = None
    module: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            # the name becomes file names (logs/<name>.<profile>.log): no "/", no "..", no ""
            where = f"{self.module}: " if self.module else ""
            raise UserError(
                f"{where}workload name {self.name!r} is not a Python identifier "
                "(letters, digits, _)"
            )
        where = self.module or self.name
        if self.category not in CATEGORIES:
            raise UserError(f"{where}: unknown category {self.category!r}")
        if self.bound not in BOUNDS:
            raise UserError(f"{where}: unknown bound {self.bound!r}")
        missing = [s for s in SIZES if s not in self.sizes]
        if missing:
            raise UserError(f"{where}: sizes lack {', '.join(missing)}")
        bad = [s for s, n in self.sizes.items() if not isinstance(n, int) or n < 1]
        if bad:
            raise UserError(f"{where}: size {bad[0]!r} must be a positive integer")

    def kernel(self, mode: str) -> Kernel:
        """The kernel that runs a mode: ``speed`` or ``rate``."""
        return self.speed if mode == "speed" else self.rate

    @property
    def alternative(self) -> Kernel:
        """The straightforward code a user would write instead of the Numba kernels."""
        return self.baseline or self.reference


def _module_workload(module: ModuleType, ref: str) -> Workload | None:
    declared = getattr(module, "WORKLOAD", None)
    if declared is None:
        return None
    if not isinstance(declared, Workload):
        raise UserError(f"workload module {ref}: WORKLOAD is not a harness Workload")
    return declared


def _import_file(path: Path) -> ModuleType:
    name = f"harness_ext_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import workload file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _import_ref(ref: str) -> ModuleType:
    """Import a workload module. Anything a user's file (from ``--workload-path``) raises, a
    syntax error or a bad declaration, is the user's error, named with the file on one line."""
    if not ref.endswith(".py"):
        return importlib.import_module(ref)  # built in: its errors are the harness's bugs
    try:
        return _import_file(Path(ref))
    except UserError as exc:
        raise UserError(f"workload module {ref}: {exc}") from None
    except (Exception, SystemExit) as exc:
        detail = " ".join(str(exc).split())
        raise UserError(
            f"workload module {ref} failed to import: {type(exc).__name__}: {detail}"
        ) from None


def import_ref(ref: str) -> Workload:
    """Import one workload from a module name (``workloads.triad``) or a ``.py`` path."""
    workload = _module_workload(_import_ref(ref), ref)
    if workload is None:
        raise UserError(f"{ref}: no WORKLOAD declared")
    return _with_module(workload, ref)


def _with_module(workload: Workload, ref: str) -> Workload:
    """Remember where the workload came from, so a fresh worker process can import it again."""
    return replace(workload, module=ref)


def _builtin_refs() -> list[str]:
    import workloads

    return [
        f"workloads.{info.name}"
        for info in pkgutil.iter_modules(workloads.__path__)
        if not info.name.startswith("_")
    ]


def _dir_refs(directory: Path) -> list[str]:
    if not directory.is_dir():
        raise UserError(f"workload path {directory} is not a directory")
    return [str(p.resolve()) for p in sorted(directory.glob("*.py")) if not p.name.startswith("_")]


def workload_dirs(values: Iterable[str] | None) -> list[Path]:
    """The folders named with ``--workload-path`` (repeatable; none by default)."""
    return [Path(v) for v in values or ()]


def discover(extra_dirs: Iterable[Path] = ()) -> dict[str, Workload]:
    """All workloads: the built-in ``workloads`` package, then each extra directory."""
    refs = _builtin_refs()
    for directory in extra_dirs:
        refs.extend(_dir_refs(directory))
    found: dict[str, Workload] = {}
    for ref in refs:
        workload = _module_workload(_import_ref(ref), ref)
        if workload is None:
            continue
        if workload.name in found:
            raise UserError(f"workload name {workload.name!r} is declared twice ({ref})")
        found[workload.name] = _with_module(workload, ref)
    return dict(sorted(found.items()))


def select(available: Mapping[str, Workload], names: str | None) -> list[Workload]:
    """The workloads a comma list names, in its order; all of them when ``names`` is empty."""
    if not names:
        return list(available.values())
    chosen: list[Workload] = []
    for name in (n.strip() for n in names.split(",")):
        if name not in available:
            known = ", ".join(available)
            raise UserError(f"unknown workload {name!r} (known: {known})")
        if available[name] not in chosen:
            chosen.append(available[name])
    return chosen
