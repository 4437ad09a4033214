"""Compile profiles: which CPU the kernels are compiled for, and proof of what code came out.

A profile always sets ``NUMBA_CPU_NAME`` and ``NUMBA_CPU_FEATURES`` together (a name alone
still gets the host's features, so asking for x86-64-v3 would still emit AVX-512), and gets its
own Numba cache directory (Numba's cache key ignores some codegen settings, numba #10821).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from harness.errors import UserError

TRIPLES = {"x86_64": "x86_64-unknown-linux-gnu", "aarch64": "aarch64-unknown-linux-gnu"}


@dataclass(frozen=True)
class Profile:
    """A named compile target: the LLVM CPU name and feature string Numba compiles for."""

    name: str
    cpu_name: str
    cpu_features: str

    def env(self) -> dict[str, str]:
        return {"NUMBA_CPU_NAME": self.cpu_name, "NUMBA_CPU_FEATURES": self.cpu_features}

    def cache_key(self, arch: str) -> str:
        digest = hashlib.sha256(self.cpu_features.encode()).hexdigest()[:10]
        return f"{arch}-{self.cpu_name}-{digest}"


_STDERR_LOCK = threading.Lock()


@cache
def _llvm_refuses(arch: str, cpu: str) -> bool:
    """Whether LLVM calls ``cpu`` "not a recognized processor" for ``arch``.

    llvmlite does not raise on an unknown name: LLVM prints that on file descriptor 2 and goes
    on with a generic CPU, so the descriptor is captured around the call.
    """
    import llvmlite.binding as llvm

    llvm.initialize_all_targets()
    machine = llvm.Target.from_triple(TRIPLES[arch])
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            machine.create_target_machine(cpu=cpu)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        return b"is not a recognized processor" in sink.read()


def llvm_cpu_known(arch: str, cpu: str) -> bool:
    """Whether this LLVM knows ``cpu`` for ``arch``.

    A probe that cannot refuse a made-up name (or cannot run) proves nothing: then every name
    passes, rather than every catalog row and profile failing.
    """
    if arch not in TRIPLES:
        return False
    try:
        return not _llvm_refuses(arch, "no-such-cpu") or not _llvm_refuses(arch, cpu)
    except (OSError, RuntimeError):  # no descriptor 2, or an LLVM built without this target
        return True


def resolve(name: str, env: dict[str, Any]) -> Profile:
    """A profile by name: ``native``, ``portable``, or any LLVM CPU name of this architecture."""
    llvm = env.get("llvm", {})
    if name == "native":
        return Profile("native", str(llvm.get("host_cpu")), str(llvm.get("host_features", "")))
    if name == "portable":
        return Profile("portable", "generic", "")
    arch = str(env.get("arch"))
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", name) or not llvm_cpu_known(arch, name):
        raise UserError(f"unknown profile {name!r}: not native, portable, or an {arch} LLVM CPU")
    return Profile(name, name, "")


def parse_profiles(value: str, env: dict[str, Any]) -> list[Profile]:
    """A comma list of profile names, resolved; duplicates dropped."""
    names = list(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if not names:
        raise UserError(f"no profile in {value!r}")
    return [resolve(n, env) for n in names]


def cache_dir(base: Path, arch: str, profile: Profile) -> Path:
    return base / profile.cache_key(arch)


_X86 = (("zmm", r"%zmm\d+"), ("ymm", r"%ymm\d+"), ("xmm", r"%xmm\d+"))
_ARM = (("sve", r"\bz\d+\.[bhsdq]\b"), ("neon", r"\bv\d+\.\d*[bhsd]\b"))
# Scalar float code on x86 also lives in xmm registers: only packed instructions count.
_X86_PACKED = re.compile(r"\b(v?\w+p[sd]|vp\w+|v?pad\w+|v?pmul\w+)\s+[^\n]*%([xyz]mm)\d+")


def vector_isa(asm: str, arch: str) -> str:
    """The widest vector register class the code uses: zmm/ymm/xmm, sve/neon, or scalar."""
    if arch == "x86_64":
        used = {m.group(2) for m in _X86_PACKED.finditer(asm)}
        return next((name for name, _ in _X86 if name in used), "scalar")
    for name, pattern in _ARM:
        if re.search(pattern, asm):
            return name
    return "scalar"


def kernel_isa(kernel: Callable[..., Any], arch: str) -> str | None:
    """The vector ISA of a compiled Numba dispatcher's code (None for plain Python)."""
    signatures = getattr(kernel, "signatures", None)
    if not signatures:
        return None
    inspect = getattr(kernel, "inspect_asm", None)
    if inspect is None:
        return None
    return vector_isa(str(inspect(signatures[0])), arch)
