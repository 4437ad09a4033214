"""Bad input at the command line: one line naming the bad value, exit status 2, no traceback."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

from conftest import Harness
from harness.results import MANIFEST, SCHEMA


def _one_line_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("harness: error:")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--workloads", "nosuch"], "'nosuch'"),
        (["run", "--size", "huge"], "'huge'"),
        (["run", "--mode", "fast"], "'fast'"),
        (["run", "--threads=-3"], "'-3'"),
        (["run", "--threads", "many"], "'many'"),
        (["run", "--timeout", "0"], "--timeout"),
        (["run", "--max-time", "0"], "--max-time: '0' is not a positive number"),
        (["run", "--max-time", "-1"], "'-1'"),
        (["run", "--min-rounds", "0"], "--min-rounds: '0'"),
        (["run", "--ci-target", "1.5"], "--ci-target: '1.5'"),
        (["run", "--ci-budget", "0"], "--ci-budget: '0'"),
        (["run", "--threads", "4096"], "--threads 4096: this host has"),
        (["compare", "tests", "tests", "--threshold", "5"], "--threshold: '5'"),
        (["run", "--workload-path", "/no/such/dir"], "/no/such/dir"),
        (["export", "/no/such/results"], "/no/such/results"),
        (["export", "tests", "--format", "xml"], "'xml'"),
        (["report", "/no/such/results", "-o", "r.html"], "/no/such/results"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_values_are_named_in_one_line(harness: Harness, args: list[str], needle: str) -> None:
    """Each bad value is refused before any work starts, with the value in the message."""
    _one_line_error(harness(*args), needle)


def _write_manifest(run_dir: Path, **fields: object) -> Path:
    run_dir.mkdir(parents=True)
    data = {"schema": SCHEMA, "schema_version": 1, "run_id": run_dir.name, "environment": {},
            "cases": []} | fields  # fmt: skip
    (run_dir / MANIFEST).write_text(json.dumps(data))
    return run_dir


def test_unknown_schema_version_is_refused(harness: Harness, tmp_path: Path) -> None:
    """A result file edited to an unknown schema version is refused by export and report."""
    run = _write_manifest(tmp_path / "r1", schema_version=7)
    _one_line_error(harness("export", str(run)), "schema version 7")
    _one_line_error(harness("report", str(run), "-o", str(tmp_path / "r.html")), "version 7")
    assert not (tmp_path / "r.html").exists()


def test_malformed_result_file_is_refused(harness: Harness, tmp_path: Path) -> None:
    """Truncated JSON is named, with the file's path."""
    run = _write_manifest(tmp_path / "r1")
    (run / MANIFEST).write_text('{"schema": "ai-cpu')
    _one_line_error(harness("export", str(run)), str(run / MANIFEST))


def test_results_path_that_is_a_file_is_refused(harness: Harness, tmp_path: Path) -> None:
    """``--out`` pointing at a file is refused and the file is left as it was."""
    blocker = tmp_path / "results"
    blocker.write_text("keep me")
    _one_line_error(harness("run", "--size", "tiny", "--out", str(blocker)), str(blocker))
    assert blocker.read_text() == "keep me"


def test_export_to_a_missing_folder_is_refused(harness: Harness, tmp_path: Path) -> None:
    """An output file in a folder that does not exist is named and nothing is written."""
    run = _write_manifest(tmp_path / "r1")
    _one_line_error(harness("export", str(run), "-o", str(tmp_path / "no" / "x.csv")), "no")


def test_help_explains_the_commands(harness: Harness) -> None:
    """``--help`` lists every subcommand and a typical session."""
    result = harness("--help")
    assert result.returncode == 0
    for word in ("env", "list", "run", "export", "report", "typical use"):
        assert word in result.stdout


def test_list_shows_workloads_as_json(harness: Harness) -> None:
    """``harness list --json`` gives each workload's category, unit, sizes and bound."""
    result = harness("list", "--json")
    assert result.returncode == 0, result.stderr
    listing = {w["name"]: w for w in json.loads(result.stdout)}
    assert listing["triad"]["bound"] == "memory"
    assert listing["logprob_eval"]["unit"] == "tokens"
    assert set(listing["triad"]["sizes"]) == {"tiny", "small", "default", "large"}


def test_targets_lists_the_catalog_filtered(harness: Harness) -> None:
    """``harness targets --arch arm64 --json`` lists only Arm rows, each with a dated price."""
    result = harness("targets", "--arch", "arm64", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) >= 10 and {r["arch"] for r in rows} == {"aarch64"}
    assert all(r["price_per_hour"] > 0 and r["price_date"] and r["price_source"] for r in rows)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["targets", "--cloud", "ibm"], "'ibm'"),
        (["run", "--instance-type", "c99x.huge"], "'c99x.huge'"),
        (["run", "--price", "-1", "--instance-type", "c8a.large"], "-1"),
        (["run", "--profile", "native,pentium9"], "'pentium9'"),
    ],
)
def test_bad_targets_prices_and_profiles_are_named(
    harness: Harness, args: list[str], needle: str
) -> None:
    """An unknown cloud, instance type, profile or a negative price is refused by name."""
    _one_line_error(harness(*args), needle)


def test_an_instance_type_this_host_cannot_be_is_refused(harness: Harness) -> None:
    """A named type of the other architecture, or with more vCPUs than the host, exits 2."""
    native = platform.machine()
    other = "c8g.large" if native == "x86_64" else "c8a.large"
    _one_line_error(
        harness("run", "--size", "tiny", "--instance-type", other), f"--instance-type {other}"
    )
    huge = "c8a.48xlarge" if native == "x86_64" else "c8g.48xlarge"
    _one_line_error(harness("run", "--size", "tiny", "--instance-type", huge), "192 vCPUs")


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan"])
def test_a_bad_progress_interval_is_refused_before_anything_is_written(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """$HARNESS_PROGRESS_EVERY that is not a positive number of seconds is one line, exit 2."""
    monkeypatch.setenv("HARNESS_PROGRESS_EVERY", value)
    out = tmp_path / "results"
    _one_line_error(harness("run", "--size", "tiny", "--out", str(out)), "HARNESS_PROGRESS_EVERY")
    assert not out.exists()
