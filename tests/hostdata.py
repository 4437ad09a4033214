"""Recorded host samples, and a fake /sys/class/dmi/id built from them, for the tests."""

from __future__ import annotations

from pathlib import Path

from harness.host.recorded import dmi_values

HOSTS = Path(__file__).parent / "data" / "hosts"


def sample(name: str, file: str) -> str:
    """The text of one recorded sample, e.g. sample("graviton4", "cpuinfo.txt")."""
    return (HOSTS / name / file).read_text(encoding="utf-8")


def fake_sysfs(text: str, root: Path) -> Path:
    """Write ``text``'s DMI values as a /sys/class/dmi/id-like directory under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, value in dmi_values(text).items():
        (root / name).write_text(value + "\n", encoding="utf-8")
    return root
