"""Bad workloads, CLI values and output paths: one line naming the value, exit 2, nothing lost."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from conftest import FIXTURE_WORKLOADS, Harness, make_harness
from harness.results import BENCHMARKS, MANIFEST

BAD = FIXTURE_WORKLOADS / "bad"
# The smallest run: it fails before it measures anything when the input is refused as it should.
TINY = ("--workloads", "triad", "--size", "tiny", "--mode", "speed", "--no-roofline")


def _refused(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error:"), result.stderr
    for needle in needles:
        assert needle in lines[0]


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny real run, the input of every output-path test."""
    tmp = tmp_path_factory.mktemp("run")
    args = (*TINY, "--processes", "2", "--out", str(tmp / "results"))
    result = make_harness(tmp)("run", *args)
    assert result.returncode == 0, result.stderr
    (found,) = (tmp / "results").iterdir()
    return found


def test_workload_name_that_climbs_out_is_refused_and_writes_nothing(
    harness: Harness, tmp_path: Path
) -> None:
    """A workload named ``../../escaped_by_name`` is refused, with its module, before any file."""
    out = tmp_path / "results"
    result = harness("run", "--workload-path", str(BAD / "escaped_name"), "--workloads",
                     "../../escaped_by_name", "--size", "tiny", "--out", str(out))  # fmt: skip
    _refused(result, "'../../escaped_by_name'", "escaped.py", "not a Python identifier")
    assert not list(tmp_path.rglob("*escaped_by_name*"))
    assert not out.exists()


def test_workload_name_with_a_slash_is_refused(harness: Harness) -> None:
    """A workload named ``sub/dir`` is refused by ``list`` with its module, not a traceback."""
    result = harness("list", "--workload-path", str(BAD / "slash_name"))
    _refused(result, "'sub/dir'", "slashed.py")


def _syntax_error_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "syntax"
    folder.mkdir()
    (folder / "bad_syntax.py").write_text("def broken(:\n    pass\n")
    return folder


@pytest.mark.parametrize("command", ["list", "run"])
@pytest.mark.parametrize(
    ("folder", "needles"),
    [
        (BAD / "raises", ("raises_at_import.py", "RuntimeError: broken on purpose")),
        (BAD / "missing_argument", ("incomplete.py", "TypeError", "missing")),
        (None, ("bad_syntax.py", "SyntaxError", "line 1")),
    ],
    ids=["raises", "missing-argument", "syntax-error"],
)
def test_workload_module_that_fails_to_import_is_named(
    harness: Harness, tmp_path: Path, command: str, folder: Path | None, needles: tuple[str, ...]
) -> None:
    """A ``--workload-path`` module that raises, lacks arguments or is not Python is named."""
    folder = folder or _syntax_error_folder(tmp_path)
    out = ("--size", "tiny", "--out", str(tmp_path / "results")) if command == "run" else ()
    _refused(harness(command, "--workload-path", str(folder), *out), *needles)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("value", ["-1", str(2**64)])
def test_seed_outside_what_numpy_takes_is_refused(
    harness: Harness, tmp_path: Path, value: str
) -> None:
    """``--seed`` must be a whole number from 0 to 2**64 - 1, refused at parse time otherwise."""
    result = harness("run", *TINY, "--seed", value, "--out", str(tmp_path / "results"))
    _refused(result, f"--seed: {value!r}")
    assert not (tmp_path / "results").exists()


def test_cache_dir_that_is_a_file_is_refused_and_kept(harness: Harness, tmp_path: Path) -> None:
    """``--cache-dir`` naming a file, or a folder under one, is refused; the file is untouched."""
    blocker = tmp_path / "cache.txt"
    blocker.write_text("keep me")
    for value in (blocker, blocker / "numba"):
        result = harness("run", *TINY, "--cache-dir", str(value), "--out", str(tmp_path / "r"))
        _refused(result, f"--cache-dir '{value}'", "not a folder")
    assert blocker.read_text() == "keep me"
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_cache_dir_that_cannot_be_written_is_refused(harness: Harness, tmp_path: Path) -> None:
    """``--cache-dir`` where no file can be made (sysfs, even for root) is refused."""
    result = harness("run", *TINY, "--cache-dir", "/sys/kernel/harness-cache",
                     "--out", str(tmp_path / "r"))  # fmt: skip
    _refused(result, "--cache-dir '/sys/kernel/harness-cache'", "not writable")


@pytest.mark.parametrize("command", ["report", "export"])
@pytest.mark.parametrize("name", [MANIFEST, BENCHMARKS])
def test_output_that_is_a_result_file_of_an_input_is_refused(
    harness: Harness, run_dir: Path, command: str, name: str
) -> None:
    """``-o`` naming an input run's manifest or benchmarks file is refused; the run is kept."""
    before = _digests(run_dir)
    result = harness(command, str(run_dir), "-o", str(run_dir / name))
    _refused(result, str(run_dir / name), name, "would be replaced")
    via_parent = run_dir / ".." / run_dir.name / name  # another spelling of the same file
    _refused(harness(command, str(run_dir.parent), "-o", str(via_parent)), "would be replaced")
    assert _digests(run_dir) == before


def test_output_that_links_to_a_result_file_is_refused(
    harness: Harness, run_dir: Path, tmp_path: Path
) -> None:
    """``-o`` naming a symlink to an input run's manifest is refused, link and run kept."""
    before = _digests(run_dir)
    link = tmp_path / "link.json"
    link.symlink_to(run_dir / MANIFEST)
    _refused(harness("export", str(run_dir), "-o", str(link)), str(link), "would be replaced")
    assert link.is_symlink() and _digests(run_dir) == before


def test_export_to_an_existing_folder_is_refused(
    harness: Harness, run_dir: Path, tmp_path: Path
) -> None:
    """``export -o`` naming a folder is refused in one line, and the folder is left as it was."""
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "kept.txt").write_text("keep me")
    _refused(harness("export", str(run_dir), "-o", str(folder)), str(folder), "is a folder")
    assert [p.name for p in folder.iterdir()] == ["kept.txt"]


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_export_to_a_place_that_cannot_be_written_is_refused(
    harness: Harness, run_dir: Path
) -> None:
    """``export -o`` where no file can be made (sysfs) names the path, not a traceback."""
    target = "/sys/kernel/harness-export.csv"
    _refused(harness("export", str(run_dir), "-o", target), f"cannot write export to {target}")
