"""``harness identify``: recorded machines named from their files, as ``env`` names this host."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import Harness
from hostdata import HOSTS

CPU_FILES = {"cpuinfo.txt", "lscpu.txt"}


def _identify(harness: Harness, *folders: Path) -> list[dict[str, Any]]:
    result = harness("identify", "--json", *map(str, folders))
    assert result.returncode == 0, result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def test_identify_and_env_agree_on_this_host(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This host's /proc/cpuinfo and DMI files, copied to a folder, identify as ``env`` says."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)  # a CI runner's env says GitHub
    folder = tmp_path / "me"
    (folder / "dmi").mkdir(parents=True)
    shutil.copyfile("/proc/cpuinfo", folder / "cpuinfo.txt")
    for entry in Path("/sys/class/dmi/id").glob("*"):
        try:
            (folder / "dmi" / entry.name).write_text(entry.read_text())
        except OSError:  # unreadable (serials, to non-root) or not a plain file
            continue
    (machine,) = _identify(harness, folder)
    env = json.loads(harness("env", "--json").stdout)
    assert machine["cpu"] == env["cpu"]
    assert machine["cloud"] == env["cloud"]
    assert machine["topology"]["vcpus"] == env["topology"]["vcpus"]
    assert machine["topology"]["sockets"] == env["topology"]["sockets"]


def test_a_recorded_aws_host_is_named_with_its_cloud_and_counts(harness: Harness) -> None:
    """cpuinfo, lscpu and dmidecode of an hpc6a.48xlarge give EPYC 7R13 on AWS, with lscpu's
    counts (the pasted cpuinfo holds one CPU's block)."""
    (machine,) = _identify(harness, HOSTS / "amd-7r13-hpc6a.48xlarge")
    assert machine["files"] == ["cpuinfo.txt", "lscpu.txt", "dmi.txt"]
    assert machine["cpu"]["name"] == "EPYC 7R13" and machine["cpu"]["known"]
    assert machine["cloud"] == {"cloud": "aws", "instance_type": "hpc6a.48xlarge",
                                "source": "dmi:product_name"}  # fmt: skip
    assert machine["topology"]["vcpus"] == 96 and machine["topology"]["sockets"] == 2


def test_an_lscpu_alone_identifies_a_github_arm64_runner(harness: Harness) -> None:
    """A real GitHub arm64 runner's lscpu names Cobalt 100 (Neoverse N2, BogoMIPS 2000)."""
    (machine,) = _identify(harness, HOSTS / "github-arm64-cobalt-100")
    assert machine["arch"] == "aarch64" and machine["cpu"]["name"].endswith("Cobalt 100")


def test_every_recorded_sample_folder_identifies_without_error(harness: Harness) -> None:
    """Every sample folder with a cpuinfo or lscpu is read in one call, one entry each."""
    folders = sorted({p.parent for p in HOSTS.glob("*/*.txt") if p.name in CPU_FILES})
    found = _identify(harness, *folders)
    assert [m["folder"] for m in found] == [str(f) for f in folders]
    assert all(m["arch"] in {"x86_64", "aarch64"} for m in found)


def test_a_folder_without_cpu_files_is_one_line(harness: Harness, tmp_path: Path) -> None:
    """A folder holding neither cpuinfo.txt nor lscpu.txt is refused, naming it."""
    result = harness("identify", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"harness: error: identify {tmp_path}: holds neither "
                                     "cpuinfo.txt nor lscpu.txt")  # fmt: skip


def test_the_text_table_names_the_chip_and_the_files(harness: Harness) -> None:
    """Without --json each folder is a table: the files read, the chip, the CPUs, the cloud."""
    result = harness("identify", str(HOSTS / "amd-7r13-hpc6a.48xlarge"))
    assert result.returncode == 0, result.stderr
    assert "EPYC 7R13" in result.stdout and "hpc6a.48xlarge" in result.stdout
    assert "cpuinfo.txt, lscpu.txt, dmi.txt" in result.stdout and "None" not in result.stdout
