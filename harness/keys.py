"""The two keys every stage groups by: which case, and which kind of machine.

A case is a workload at a size, in a mode, with a thread count, compiled under a profile; two
results are the same case only when all five agree (two profiles of one case are two cases).
A host kind is what makes two machines interchangeable for a comparison: architecture, CPU,
the LLVM CPU Numba compiled for, and the cloud instance type. Host names are not part of it:
nightly runners are ephemeral and each night's machine has a new name.

Both are named tuples, so they sort, hash and compare as plain tuples and serialise as JSON
arrays, and each has exactly one way to be written for people (``label``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

UNKNOWN = "?"


def _text(value: Any) -> str:
    """A key part: its text, or ``?`` when absent (None, empty or NaN)."""
    if value is None or value != value or value == "":
        return UNKNOWN
    return str(value)


def _section(env: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    part = env.get(name)
    return part if isinstance(part, Mapping) else {}


class CaseKey(NamedTuple):
    """One case: workload, size, mode, threads and compile profile."""

    workload: str
    size: str
    mode: str
    threads: int = 1
    profile: str = "native"

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> CaseKey:
        """A manifest case's or exported row's key (no threads reads 1, no profile native)."""
        threads = record.get("threads")
        profile = record.get("profile")
        return cls(
            _text(record.get("workload")),
            _text(record.get("size")),
            _text(record.get("mode")),
            int(threads) if threads is not None and threads == threads else 1,
            str(profile) if isinstance(profile, str) and profile else "native",
        )

    @property
    def id(self) -> str:
        """The case's identifier in result files (stable: resume and history match on it)."""
        return f"{self.workload}/{self.size}/{self.mode}/t{self.threads}/{self.profile}"

    @property
    def label(self) -> str:
        """The case for people; the profile is named only when it is not native."""
        text = f"{self.workload}/{self.size}/{self.mode}/t{self.threads}"
        return text if self.profile == "native" else f"{text} [{self.profile}]"

    @property
    def computed(self) -> CaseKey:
        """What the case computes: threads and profile change how it is computed, not what."""
        return self._replace(threads=1, profile="native")

    def bench_name(self, n: int) -> str:
        """The pytest-benchmark name: unique within a run, as its tools expect."""
        return f"{self.workload}[{self.size},n={n},{self.mode},t={self.threads},{self.profile}]"


CASE_FIELDS: tuple[str, ...] = CaseKey._fields
# A case across machines: each host runs whole-instance rate cases at its own vCPU count, so
# price-performance pairs a case on two hosts whatever their thread counts.
ACROSS_HOSTS: tuple[str, ...] = tuple(f for f in CASE_FIELDS if f != "threads")


class HostKind(NamedTuple):
    """One kind of machine: architecture, CPU, LLVM CPU name and instance type."""

    arch: str
    cpu: str
    llvm_cpu: str
    instance_type: str

    @classmethod
    def of_environment(cls, env: Mapping[str, Any]) -> HostKind:
        """The kind of the machine a run's environment record describes."""
        cpu, llvm, cloud = (_section(env, k) for k in ("cpu", "llvm", "cloud"))
        return cls(
            _text(env.get("arch")),
            _text(cpu.get("name") or cpu.get("model_name")),
            _text(llvm.get("cpu_name")),
            _text(cloud.get("instance_type")),
        )

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> HostKind:
        """The kind of an exported row (its ``arch``, ``cpu``, ``llvm_cpu``, ``instance_type``)."""
        return cls(*(_text(row.get(field)) for field in cls._fields))

    @property
    def known_type(self) -> bool:
        return self.instance_type != UNKNOWN

    @property
    def label(self) -> str:
        """``arch CPU (LLVM CPU, instance type)``, leaving out the parts that are unknown."""
        extra = ", ".join(v for v in (self.llvm_cpu, self.instance_type) if v != UNKNOWN)
        return f"{self.arch} {self.cpu}" + (f" ({extra})" if extra else "")


HOST_FIELDS: tuple[str, ...] = HostKind._fields


def target_label(row: Mapping[str, Any]) -> str | None:
    """What a row is priced and summarised under: its priced type, else DMI type, else host."""
    for column in ("target_type", "instance_type", "host"):
        value = row.get(column)
        if isinstance(value, str) and value:
            return value
    return None
