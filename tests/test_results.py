"""Result files: atomic writes, schema versions, and refusing what cannot be read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import UserError
from harness.results import (
    MANIFEST,
    SCHEMA,
    SCHEMA_VERSION,
    atomic_write_text,
    find_runs,
    load_run,
    make_run_dir,
)


def _manifest(run_dir: Path, **overrides: object) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    data = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "run_id": run_dir.name,
            "environment": {}, "cases": []} | overrides  # fmt: skip
    path = run_dir / MANIFEST
    path.write_text(json.dumps(data))
    return path


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    """After a write the file holds exactly the new text and nothing else is left beside it."""
    target = tmp_path / "a.json"
    target.write_text("old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failed_atomic_write_keeps_the_old_file(tmp_path: Path) -> None:
    """A write that fails midway leaves the previous content untouched."""
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        atomic_write_text(target, None)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    """A manifest from a newer harness is refused, naming the file and the version."""
    path = _manifest(tmp_path / "run", schema_version=99)
    with pytest.raises(UserError, match=r"schema version 99 is not supported"):
        load_run(path.parent)


def test_a_version_1_manifest_is_still_read(tmp_path: Path) -> None:
    """Files written before the process estimate (schema 1) have the same keys: they load."""
    path = _manifest(tmp_path / "run", schema_version=1)
    assert load_run(path.parent).manifest["schema_version"] == 1


def test_malformed_json_is_refused_with_its_path(tmp_path: Path) -> None:
    """Broken JSON names the file and the line."""
    path = _manifest(tmp_path / "run")
    path.write_text('{"schema": ')
    with pytest.raises(UserError, match=str(path)):
        load_run(path.parent)


def test_foreign_json_is_not_a_manifest(tmp_path: Path) -> None:
    """A JSON file that is not ours is refused plainly."""
    path = _manifest(tmp_path / "run")
    path.write_text("[1, 2]")
    with pytest.raises(UserError, match="not a harness result manifest"):
        load_run(path.parent)


def test_find_runs_reads_a_folder_of_runs(tmp_path: Path) -> None:
    """A results folder yields every run directory inside it, in order."""
    _manifest(tmp_path / "b")
    _manifest(tmp_path / "a")
    assert [r.run_id for r in find_runs([tmp_path])] == ["a", "b"]


def test_find_runs_reads_fleet_runs_at_any_depth(tmp_path: Path) -> None:
    """A results folder holding a fleet (``<fleet>/<host>/``) yields its hosts' runs, sorted."""
    _manifest(tmp_path / "solo")
    _manifest(tmp_path / "fleet-1" / "sapphire")
    _manifest(tmp_path / "fleet-1" / "graviton4")
    (tmp_path / "fleet-1" / "logs").mkdir()
    (tmp_path / "fleet-1" / "fleet.json").write_text("{}")
    assert [r.run_id for r in find_runs([tmp_path])] == ["graviton4", "sapphire", "solo"]
    assert [r.run_id for r in find_runs([tmp_path / "fleet-1"])] == ["graviton4", "sapphire"]


def test_find_runs_looks_for_no_runs_inside_a_run_or_a_hidden_folder(tmp_path: Path) -> None:
    """A manifest below a run directory, or in a hidden folder (a fetch's staging), is no run."""
    _manifest(tmp_path / "run")
    _manifest(tmp_path / "run" / "logs" / "copy")
    _manifest(tmp_path / "fleet" / ".fetch-x1" / "partial")
    assert [r.run_id for r in find_runs([tmp_path])] == ["run"]


def test_missing_and_empty_paths_are_user_errors(tmp_path: Path) -> None:
    """A path that does not exist, or holds no run, is named in the error."""
    with pytest.raises(UserError, match="does not exist"):
        find_runs([tmp_path / "nope"])
    with pytest.raises(UserError, match="holds no run"):
        find_runs([tmp_path])


def test_run_dir_under_a_file_is_a_user_error(tmp_path: Path) -> None:
    """An output path that is a file cannot hold runs."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="not a directory"):
        make_run_dir(blocker, "r1")
    assert blocker.read_text() == ""


def test_run_ids_never_reuse_a_directory(tmp_path: Path) -> None:
    """Creating a run directory that exists is refused, so no run is overwritten."""
    make_run_dir(tmp_path, "r1")
    with pytest.raises(UserError):
        make_run_dir(tmp_path, "r1")
