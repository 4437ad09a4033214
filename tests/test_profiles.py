"""Compile profiles: names resolved for the host, and the vector ISA read from real assembly."""

from __future__ import annotations

import pytest

from harness.errors import UserError
from harness.host.profiles import llvm_cpu_known, parse_profiles, resolve, vector_isa

ENV = {"arch": "x86_64", "llvm": {"host_cpu": "znver5", "host_features": "+avx512f,+avx2"}}


def test_native_takes_the_host_name_and_features_together() -> None:
    """``native`` sets both the host CPU name and its feature string."""
    assert resolve("native", ENV).env() == {
        "NUMBA_CPU_NAME": "znver5",
        "NUMBA_CPU_FEATURES": "+avx512f,+avx2",
    }


def test_named_levels_clear_the_features() -> None:
    """An ISA level gets an empty feature string, so host features cannot leak in."""
    assert resolve("x86-64-v3", ENV).env() == {
        "NUMBA_CPU_NAME": "x86-64-v3",
        "NUMBA_CPU_FEATURES": "",
    }
    assert resolve("portable", ENV).cpu_name == "generic"


def test_each_profile_has_its_own_cache_key() -> None:
    """Profiles differing in name or features never share a Numba cache folder."""
    keys = {p.cache_key("x86_64") for p in parse_profiles("native,x86-64-v3,portable", ENV)}
    assert len(keys) == 3


@pytest.mark.parametrize(
    ("arch", "name", "known"),
    [
        ("x86_64", "sapphirerapids", True),
        ("x86_64", "znver5", True),
        ("aarch64", "neoverse-v2", True),
        ("aarch64", "neoverse-n1", True),
        ("x86_64", "neoverse-v2", False),
        ("aarch64", "foobar", False),
        ("riscv", "generic", False),
    ],
)
def test_llvm_knows_cpu_names_per_architecture(arch: str, name: str, known: bool) -> None:
    """LLVM's own target tables decide which CPU names an architecture accepts."""
    assert llvm_cpu_known(arch, name) is known


def test_unknown_or_foreign_profile_is_a_user_error() -> None:
    """A misspelt name, or an Arm core on an x86 host, is refused with the name."""
    with pytest.raises(UserError, match="'neoverse-v2'"):
        resolve("neoverse-v2", ENV)
    with pytest.raises(UserError, match="'x86-64-v9'"):
        parse_profiles("native,x86-64-v9", ENV)


@pytest.mark.parametrize(
    ("asm", "isa"),
    [
        ("vfmadd231pd %zmm1, %zmm2, %zmm0\n vmovupd %ymm0, (%rax)", "zmm"),
        ("vaddpd %ymm1, %ymm2, %ymm0\n vaddsd %xmm1, %xmm2, %xmm0", "ymm"),
        ("addpd %xmm1, %xmm0", "xmm"),
        ("vaddsd %xmm1, %xmm2, %xmm0\n vmulss %xmm0, %xmm0, %xmm0", "scalar"),
    ],
)
def test_x86_isa_is_the_widest_packed_register(asm: str, isa: str) -> None:
    """Packed instructions decide; scalar SSE arithmetic in xmm registers is not vector code."""
    assert vector_isa(asm, "x86_64") == isa


@pytest.mark.parametrize(
    ("asm", "isa"),
    [
        ("fmla z0.s, p0/m, z1.s, z2.s", "sve"),
        ("fmla v0.4s, v1.4s, v2.4s", "neon"),
        ("fmadd s0, s1, s2, s3", "scalar"),
    ],
)
def test_arm_isa_distinguishes_sve_neon_and_scalar(asm: str, isa: str) -> None:
    """SVE z registers, NEON v registers and scalar s/d registers are told apart."""
    assert vector_isa(asm, "aarch64") == isa
