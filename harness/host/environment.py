"""Who this host is, as one JSON-serialisable dict stored with every result.

A number is only comparable with another when both say what produced them: the chip, the
code LLVM was told to emit, the thread layout, the libraries. Nothing here touches the network,
and environment variables are recorded from an allowlist only, secret-looking values redacted.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil

from harness.host.cloud import DMI_ROOT, github_runner, identify_cloud, read_dmi
from harness.host.cpuid import Chip, CpuFacts, identify, parse_cpuinfo

CPUINFO = Path("/proc/cpuinfo")
# Variables that change results; nothing else from os.environ is ever recorded.
# RUNNER_* and GITHUB_ACTIONS: which CI runner (a GitHub-hosted one is priced as such)
ENV_PREFIXES = ("NUMBA_", "OMP_", "GOMP_", "KMP_", "OPENBLAS_", "MKL_", "BLIS_", "RUNNER_")
ENV_NAMES = frozenset({"PYTHONHASHSEED", "MALLOC_ARENA_MAX", "GITHUB_ACTIONS"})
# An allowlisted name with one of these in it is recorded, but its value is not: a prefix also
# admits names like MKL_LICENSE_KEY or OMP_API_TOKEN, which hold secrets, not settings.
SECRET_PARTS = ("PASSWORD", "PASSWD", "PASSPHRASE", "TOKEN", "SECRET", "KEY", "LICENSE",
                "LICENCE", "CREDENTIAL", "AUTH", "PRIVATE", "COOKIE", "SESSION")  # fmt: skip
REDACTED = "<redacted>"
_BLAS_KEYS = ("internal_api", "version", "threading_layer", "num_threads", "architecture")


def result_env_vars(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allowlisted, result-changing variables of ``environ`` (default: os.environ).

    Prefixes keep every NUMBA_/OMP_/... setting without a list to maintain; a name that looks
    secret (``SECRET_PARTS``) is kept, so a reader sees it was set, with its value redacted.
    """
    env = os.environ if environ is None else environ
    names = [k for k in sorted(env) if k.startswith(ENV_PREFIXES) or k in ENV_NAMES]
    return {k: REDACTED if any(p in k.upper() for p in SECRET_PARTS) else env[k] for k in names}


def _hex(value: int | None) -> str | None:
    return None if value is None else f"{value:#x}"


def cpu_record(facts: CpuFacts, chip: Chip) -> dict[str, Any]:
    """The ``cpu`` object of a capture: the decoded chip and the raw facts it came from."""
    return {
        "vendor": chip.vendor, "name": chip.name, "family": chip.family, "core": chip.core,
        "expected_llvm_cpu": chip.llvm_cpu, "model_name": facts.model_name,
        "vendor_id": facts.vendor_id, "cpu_family": facts.family, "cpu_model": facts.model,
        "implementer": _hex(facts.implementer), "part": _hex(facts.part),
        "candidates": list(chip.candidates), "known": chip.known, "evidence": chip.evidence,
        "confidence": chip.confidence,
    }  # fmt: skip


def _llvm() -> dict[str, Any]:
    """The host as LLVM sees it, and the target Numba will compile for (its env overrides)."""
    import llvmlite.binding as ll
    from numba.core import codegen, config

    host_cpu = str(ll.get_host_cpu_name())
    try:
        host_features = str(ll.get_host_cpu_features().flatten())
    except RuntimeError:  # LLVM cannot read the features on this OS/arch
        host_features = ""
    features = config.CPU_FEATURES
    return {
        "host_cpu": host_cpu,
        "host_features": host_features,
        "cpu_name": config.CPU_NAME or host_cpu,
        "cpu_features": features if features is not None else codegen.get_host_cpu_features(),
        "version": ".".join(str(part) for part in ll.llvm_version_info),
    }


def _topology(facts: CpuFacts) -> dict[str, Any]:
    vcpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else vcpus
    physical = psutil.cpu_count(logical=False)
    per_core = facts.threads_per_core or (vcpus // physical if vcpus and physical else None)
    return {
        "vcpus": vcpus,
        "usable_cpus": usable,
        "physical_cores": physical,
        "threads_per_core": per_core,
        "sockets": facts.sockets,
    }


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME") or platform.system()
    except OSError:  # no /etc/os-release (not Linux, or a bare container)
        return platform.system()


def _array_expression(x: Any) -> Any:
    return (x * 2.0 + 1.0).sum()  # parallel=True turns this into a parallel loop


def threading_layer() -> str | None:
    """The layer Numba picks here (tbb, omp, workqueue), found by running a parallel kernel."""
    import numba
    import numpy

    try:
        numba.njit(parallel=True)(_array_expression)(numpy.ones(64))
        return str(numba.threading_layer())
    except Exception:  # informational only: a host without a usable layer still gets captured
        return None


def _software(probe_threading: bool) -> dict[str, Any]:
    import llvmlite
    import numba
    import numpy
    from threadpoolctl import threadpool_info

    try:
        import scipy
        import scipy.linalg  # loads SciPy's BLAS, the one np.dot inside Numba calls

        scipy_version: str | None = scipy.__version__
    except ImportError:
        scipy_version = None
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return {
        "python": platform.python_version(),
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy_version,
        "blas": [{key: pool.get(key) for key in _BLAS_KEYS} for pool in pools],
        "threading_layer": threading_layer() if probe_threading else None,
    }


# Set by the emulated-host launcher (scripts/aarch64-env.sh): results say they are emulated.
EMULATED_VAR = "HARNESS_EMULATED"


def capture(
    instance_type: str | None = None,
    probe_threading: bool = True,
    *,
    cpuinfo: Path = CPUINFO,
    dmi_root: Path = DMI_ROOT,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """This host's identity; ``instance_type`` overrides what DMI says (or cannot say)."""
    variables = result_env_vars()  # before the probes: libraries may set some while loading
    try:
        facts = parse_cpuinfo(cpuinfo.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        facts = CpuFacts(arch=platform.machine())
    runner = github_runner(os.environ if environ is None else environ, platform.machine(),
                           os.cpu_count())  # fmt: skip
    cloud = (
        runner
        if runner and not instance_type
        else identify_cloud(read_dmi(dmi_root), instance_type)
    )
    emulator = os.environ.get(EMULATED_VAR)
    chip_cloud = "azure" if cloud.cloud == "github" else cloud.cloud  # runners are Azure VMs
    cpu = _emulated_cpu(emulator) if emulator else cpu_record(facts, identify(facts, chip_cloud))
    return {
        "host": platform.node(),
        "arch": platform.machine(),
        "emulated": bool(emulator),
        "cpu": cpu,
        "llvm": _llvm(),
        "topology": _topology(facts),
        "memory_bytes": psutil.virtual_memory().total,
        "cloud": asdict(cloud),
        "os": {"name": _os_name(), "kernel": platform.release()},
        "software": _software(probe_threading),
        "env_vars": variables,
    }


def _emulated_cpu(emulator: str) -> dict[str, Any]:
    """Under QEMU user mode /proc/cpuinfo is the x86 host's: the CPU is named as emulated."""
    return {
        "vendor": "QEMU",
        "name": f"emulated {platform.machine()} ({emulator})",
        "family": "emulated",
        "core": "emulated",
        "expected_llvm_cpu": None,
        "model_name": None,
        "candidates": [],
        "known": False,
    }


def _section(env: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = env.get(key)
    return value if isinstance(value, Mapping) else {}


def _cpu_text(cpu: Mapping[str, Any]) -> str:
    vendor, name = cpu.get("vendor") or "", cpu.get("name") or "unknown"
    text = name if name.startswith(vendor) else f"{vendor} {name}".strip()
    if cpu.get("candidates"):
        return f"{text} (one of: {', '.join(cpu['candidates'])})"
    if not cpu.get("known", True):
        return f"{text} (not in the chip table)"
    details = [d for d in (cpu.get("family"), cpu.get("core")) if d and d not in text]
    inferred = (
        f" (inferred from {cpu.get('evidence')})" if cpu.get("confidence") == "inferred" else ""
    )
    return ", ".join([text, *details]) + inferred


def _llvm_text(llvm: Mapping[str, Any], expected: str | None) -> str:
    host = llvm.get("host_cpu") or "?"
    if expected and expected != host:
        return f"{host} (chip table expects {expected})"
    return str(host)


def _target_text(llvm: Mapping[str, Any]) -> str:
    name, features = llvm.get("cpu_name") or "?", str(llvm.get("cpu_features"))
    if features == llvm.get("host_features"):
        return f"{name}, host features"
    shown = features if len(features) <= 60 else f"{features[:57]}..."
    return f"{name}, features {shown!r}"


def _topology_text(topo: Mapping[str, Any]) -> str:
    usable = f" ({topo['usable_cpus']} usable)" if topo.get("usable_cpus") is not None else ""
    return (
        f"{topo.get('vcpus')} vCPUs{usable}, "
        f"{topo.get('physical_cores')} physical cores, {topo.get('threads_per_core')} "
        f"threads/core, {topo.get('sockets') or '?'} socket(s)"
    )


def _cloud_text(cloud: Mapping[str, Any]) -> str:
    if not cloud.get("cloud") and not cloud.get("instance_type"):
        return "unknown (no cloud DMI strings)"
    where = " ".join(str(v) for v in (cloud.get("cloud"), cloud.get("instance_type")) if v)
    return f"{where} (from {cloud.get('source')})"


def _blas_text(pools: list[Mapping[str, Any]]) -> str:
    return "; ".join(
        f"{p.get('internal_api')} {p.get('version')} ({p.get('threading_layer')}, "
        f"{p.get('num_threads')} threads, {p.get('architecture')})"
        for p in pools
    )


def identity_rows(env: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs for who a machine is: chip, model name, CPUs, cloud."""
    cpu = _section(env, "cpu")
    return [
        ("CPU", _cpu_text(cpu)),
        ("Model name", str(cpu.get("model_name") or "-")),
        ("CPUs", _topology_text(_section(env, "topology"))),
        ("Cloud", _cloud_text(_section(env, "cloud"))),
    ]


def summary_rows(env: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs for a terminal table; tolerant of fields an older capture lacks."""
    cpu, llvm, sw = _section(env, "cpu"), _section(env, "llvm"), _section(env, "software")
    os_info, memory = _section(env, "os"), env.get("memory_bytes")
    variables = _section(env, "env_vars")
    return [
        ("Host", f"{env.get('host', '?')} ({env.get('arch', '?')})"),
        ("CPU", _cpu_text(cpu)),
        ("Model name", str(cpu.get("model_name") or "-")),
        ("LLVM host CPU", _llvm_text(llvm, cpu.get("expected_llvm_cpu"))),
        ("Numba target", _target_text(llvm)),
        ("CPUs", _topology_text(_section(env, "topology"))),
        ("Memory", f"{memory / 2**30:.1f} GiB" if isinstance(memory, int) else "?"),
        ("Cloud", _cloud_text(_section(env, "cloud"))),
        ("OS", f"{os_info.get('name', '?')}, kernel {os_info.get('kernel', '?')}"),
        ("Python / Numba", f"{sw.get('python')} / {sw.get('numba')} "
         f"(llvmlite {sw.get('llvmlite')}, LLVM {llvm.get('version')})"),
        ("NumPy / SciPy", f"{sw.get('numpy')} / {sw.get('scipy') or 'not installed'}"),
        ("BLAS", _blas_text(sw.get("blas") or []) or "none loaded"),
        ("Threading layer", str(sw.get("threading_layer") or "not probed")),
        ("Variables", " ".join(f"{k}={v}" for k, v in variables.items()) or "none set"),
    ]  # fmt: skip
