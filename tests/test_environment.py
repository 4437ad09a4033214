"""The captured host environment: complete, JSON-serialisable, offline, and free of secrets."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from harness.host.environment import capture, result_env_vars, summary_rows
from hostdata import HOSTS, fake_sysfs, sample

TOP_KEYS = {"host", "arch", "emulated", "cpu", "llvm", "topology", "memory_bytes", "cloud", "os",
            "software", "env_vars"}  # fmt: skip
CPU_KEYS = {"vendor", "name", "family", "core", "expected_llvm_cpu", "model_name", "vendor_id",
            "cpu_family", "cpu_model", "implementer", "part", "candidates", "known", "evidence",
            "confidence"}  # fmt: skip


def _this_host_is_zen5() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return False
    return "AuthenticAMD" in text and "cpu family\t: 26\n" in text


@pytest.fixture(scope="module")
def env() -> dict[str, Any]:
    """One real capture of this machine, threading probe included (it compiles a kernel)."""
    return capture()


def test_capture_has_exactly_the_documented_keys_and_is_json(env: dict[str, Any]) -> None:
    """Result files store this dict as JSON; readers rely on these keys."""
    assert set(env) == TOP_KEYS and set(env["cpu"]) == CPU_KEYS
    assert set(env["llvm"]) == {"host_cpu", "host_features", "cpu_name", "cpu_features", "version"}
    assert set(env["topology"]) == {
        "vcpus", "usable_cpus", "physical_cores", "threads_per_core", "sockets"}  # fmt: skip
    assert set(env["software"]) == {
        "python", "numba", "llvmlite", "numpy", "scipy", "blas", "threading_layer"}  # fmt: skip
    assert json.loads(json.dumps(env)) == env


def test_capture_counts_this_machines_cpus(env: dict[str, Any]) -> None:
    """vCPUs are os.cpu_count(); usable ones are this process's affinity mask."""
    assert env["topology"]["vcpus"] == os.cpu_count()
    assert env["topology"]["usable_cpus"] == len(os.sched_getaffinity(0))
    assert env["memory_bytes"] > 0 and env["llvm"]["version"].count(".") == 2


def test_a_known_chip_expects_the_cpu_name_llvm_actually_reports(env: dict[str, Any]) -> None:
    """The chip table's LLVM name for this host agrees with llvmlite's host detection."""
    if not env["cpu"]["known"]:
        pytest.skip(f"this CPU is not in the chip table: {env['cpu']['model_name']}")
    assert env["cpu"]["expected_llvm_cpu"] == env["llvm"]["host_cpu"]


@pytest.mark.skipif(
    not _this_host_is_zen5(),
    reason="checks an AMD Zen 5 host (family 26); this host is another CPU",
)
def test_this_sandbox_is_an_amd_turin_with_no_cloud(env: dict[str, Any]) -> None:
    """The development machine: x86_64, 'AMD EPYC' family 26 model 2, no DMI files."""
    cpu = env["cpu"]
    assert env["arch"] == "x86_64" and (cpu["vendor"], cpu["family"]) == ("AMD", "Turin")
    assert cpu["expected_llvm_cpu"] == env["llvm"]["host_cpu"] == "znver5"
    assert env["cloud"] == {"cloud": None, "instance_type": None, "source": "none"}


def test_the_threading_layer_is_probed_or_left_out(env: dict[str, Any]) -> None:
    """A parallel kernel tells which layer Numba uses; without the probe it is None."""
    assert env["software"]["threading_layer"] in {"tbb", "omp", "workqueue"}
    assert capture(probe_threading=False)["software"]["threading_layer"] is None


def test_numba_target_overrides_are_what_the_capture_reports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NUMBA_CPU_NAME and NUMBA_CPU_FEATURES (as Numba read them) replace the host's."""
    from numba.core import config

    monkeypatch.setattr(config, "CPU_NAME", "x86-64-v3")
    monkeypatch.setattr(config, "CPU_FEATURES", "")
    llvm = capture(probe_threading=False)["llvm"]
    assert (llvm["cpu_name"], llvm["cpu_features"]) == ("x86-64-v3", "")
    assert llvm["host_cpu"] != "x86-64-v3" and llvm["host_features"]


def test_secrets_never_reach_the_capture_and_allowlisted_variables_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only NUMBA_/OMP_/BLAS-style variables are recorded; AWS keys and tokens never are."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-not-a-real-key")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-not-a-real-token")
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")
    monkeypatch.setenv("OMP_PROC_BIND", "close")
    text = json.dumps(capture(probe_threading=False))
    assert "not-a-real" not in text and "AWS_SECRET" not in text and "GITHUB_TOKEN" not in text
    assert '"NUMBA_NUM_THREADS": "3"' in text and '"OMP_PROC_BIND": "close"' in text


def test_the_allowlist_takes_prefixes_and_two_exact_names() -> None:
    """PYTHONHASHSEED and MALLOC_ARENA_MAX by name; anything merely containing NUMBA is out."""
    environ = {"PYTHONHASHSEED": "0", "MALLOC_ARENA_MAX": "2", "KMP_AFFINITY": "compact",
               "MY_NUMBA_SECRET": "x", "PYTHONPATH": "/x", "HOME": "/root"}  # fmt: skip
    assert result_env_vars(environ) == {
        "KMP_AFFINITY": "compact", "MALLOC_ARENA_MAX": "2", "PYTHONHASHSEED": "0"}  # fmt: skip


def test_capture_reads_the_cpuinfo_and_dmi_it_is_given(tmp_path: Path) -> None:
    """A recorded Graviton2 m6g host: the chip from its cpuinfo, the type from its DMI."""
    dmi = fake_sysfs(sample("graviton2-m6g.metal", "dmi.txt"), tmp_path / "dmi")
    env = capture(probe_threading=False, cpuinfo=HOSTS / "graviton2-m6g.4xlarge" / "cpuinfo.txt",
                  dmi_root=dmi, environ={})  # fmt: skip
    assert (env["cpu"]["name"], env["cpu"]["part"], env["cpu"]["implementer"]) == (
        "Graviton2", "0xd0c", "0x41")  # fmt: skip
    assert env["cloud"] == {
        "cloud": "aws",
        "instance_type": "m6g.metal",
        "source": "dmi:product_name",
    }
    assert env["topology"]["sockets"] is None  # arm64 cpuinfo does not say


def test_capture_without_cpuinfo_or_dmi_still_succeeds(tmp_path: Path) -> None:
    """No /proc/cpuinfo (or an unreadable one) gives an unknown CPU, not an error."""
    env = capture(probe_threading=False, cpuinfo=tmp_path / "none", dmi_root=tmp_path / "none",
                  environ={})  # fmt: skip
    assert env["cpu"]["known"] is False and env["cloud"]["cloud"] is None


def test_capture_never_opens_a_network_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """No metadata service, no DNS: any socket connect during capture fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network use during capture: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert (
        capture(instance_type="c8g.large", probe_threading=False)["cloud"]["source"] == "override"
    )


def test_summary_rows_are_label_value_strings_and_tolerate_an_old_capture(
    env: dict[str, Any],
) -> None:
    """The CLI prints these; a capture missing sections (an older file) still renders."""
    rows = summary_rows(env)
    assert all(isinstance(label, str) and isinstance(value, str) for label, value in rows)
    labels = dict(rows)
    assert env["llvm"]["host_cpu"] in labels["LLVM host CPU"]
    assert str(env["topology"]["vcpus"]) in labels["CPUs"]
    assert len(summary_rows({})) == len(rows)


def test_summary_shows_candidates_and_overridden_targets() -> None:
    """An undecided chip lists its candidates; a pinned Numba target shows its features."""
    cpu = {"vendor": "Arm", "name": "Neoverse V2", "candidates": ["Graviton4", "NVIDIA Grace"]}
    llvm = {"host_cpu": "neoverse-v2", "host_features": "+neon", "cpu_name": "generic",
            "cpu_features": ""}  # fmt: skip
    rows = dict(summary_rows({"cpu": cpu, "llvm": llvm}))
    assert rows["CPU"] == "Arm Neoverse V2 (one of: Graviton4, NVIDIA Grace)"
    assert rows["Numba target"] == "generic, features ''"
