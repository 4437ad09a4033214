"""Result files: one directory per run, written atomically, read back with a version check.

A run directory holds ``manifest.json`` (schema version, host environment, options, and every
case with its status) and ``benchmarks.json`` (the timing rounds in pytest-benchmark's own JSON
format, raw samples included, so ``pytest-benchmark compare`` reads it). Both files are
rewritten whole after every case, through a temporary file and a rename, so an interrupted run
keeps everything it finished.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import schema
from harness.errors import UserError
from harness.records import PLANNED_KEYS, CaseResult

SCHEMA = "ai-cpu-harness/results"
# Version 2: a case's median_s/ci_low_s/ci_high_s are its processes' estimate (the pooled
# rounds' figures moved to within_*). Version 1 files still read: their keys are the same.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
BENCHMARKS = "benchmarks.json"


def atomic_write_text(path: Path, text: str) -> None:
    """Write a whole file or nothing: temporary file, fsync, rename over the target."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide reports from a web server
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, default=float) + "\n")


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(2)}"


def make_run_dir(out: Path, run_id: str) -> Path:
    """Create ``out/run_id``; a bad or unwritable ``out`` is the user's error, named."""
    if out.exists() and not out.is_dir():
        raise UserError(f"results path {out} is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        run_dir = out / run_id
        run_dir.mkdir()
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write results to {out}: {exc.strerror or exc}") from None
    return run_dir


@dataclass
class RunWriter:
    """Keeps a run's manifest and benchmark entries, and flushes both after each change."""

    run_dir: Path
    manifest: dict[str, Any]
    machine_info: dict[str, Any]
    commit_info: dict[str, Any]
    benchmarks: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.flush()

    @classmethod
    def reopen(cls, run: Run) -> RunWriter:
        """Continue writing a run read back from disk (``harness run --resume``)."""
        bench = run.benchmarks
        return cls(
            run.path,
            run.manifest,
            dict(bench.get("machine_info") or {}),
            dict(bench.get("commit_info") or {}),
            list(bench.get("benchmarks") or []),
        )

    def case(self, case_id: str) -> dict[str, Any]:
        return next(c for c in self.manifest["cases"] if c["id"] == case_id)

    def bench(self, case_id: str) -> dict[str, Any] | None:
        """The case's pytest-benchmark entry, if it has one yet."""
        return next((b for b in self.benchmarks if b["extra_info"].get("case") == case_id), None)

    def reset(self, case_id: str) -> None:
        """Forget a case's outcome, keeping only its plan, so it can run again."""
        entry = self.case(case_id)
        for key in set(entry) - PLANNED_KEYS:
            del entry[key]
        entry.update(status="pending", error=None)
        self.benchmarks = [b for b in self.benchmarks if b["extra_info"].get("case") != case_id]

    def record(self, case_id: str, record: dict[str, Any], bench: dict[str, Any] | None) -> None:
        """Store a case's outcome (the runner has pooled it with earlier processes' already)."""
        entry = self.case(case_id)
        updated = CaseResult.from_json({**entry, **record}).to_json()
        entry.clear()
        entry.update(updated)
        if bench is not None:
            bench["extra_info"]["case"] = case_id
            self.benchmarks = [b for b in self.benchmarks if b["extra_info"]["case"] != case_id]
            self.benchmarks.append(bench)
        self.flush()

    def finish(self, status: str) -> None:
        self.manifest["status"] = status
        self.manifest["finished"] = datetime.now(UTC).isoformat()
        self.flush()

    def flush(self) -> None:
        from pytest_benchmark import __version__ as pb_version

        atomic_write_json(
            self.run_dir / BENCHMARKS,
            {
                "machine_info": self.machine_info,
                "commit_info": self.commit_info,
                "benchmarks": self.benchmarks,
                "datetime": self.manifest["created"],
                "version": pb_version,
            },
        )
        atomic_write_json(self.run_dir / MANIFEST, self.manifest)


@dataclass(frozen=True)
class Run:
    """A run read back from disk."""

    path: Path
    manifest: dict[str, Any]
    benchmarks: dict[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    @property
    def environment(self) -> dict[str, Any]:
        return dict(self.manifest["environment"])

    @property
    def results(self) -> list[CaseResult]:
        """Every case of the run, typed, in the manifest's order."""
        return [CaseResult.from_json(case) for case in self.manifest["cases"]]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except RecursionError:
        raise UserError(f"{path}: nested too deeply to be a result file") from None


def validate(path: Path, data: Any, spec: schema.Spec) -> None:
    """Refuse a file that does not fit ``spec``, naming the field and its bad value."""
    deep = schema.too_deep(data)
    if deep is not None:
        raise UserError(f"{path}: {deep} is nested more than {schema.MAX_DEPTH} levels deep")
    problem = spec.problem(data, "")
    if problem is not None:
        raise UserError(f"{path}: {problem}")


def check_manifest(path: Path, data: Any) -> dict[str, Any]:
    """Refuse anything that is not a manifest of a schema version this harness knows."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UserError(f"{path}: not a harness result manifest")
    version = data.get("schema_version")
    if version not in READABLE_VERSIONS:
        readable = ", ".join(map(str, READABLE_VERSIONS))
        raise UserError(
            f"{path}: schema version {version!r} is not supported "
            f"(this harness reads versions {readable})"
        )
    validate(path, data, schema.MANIFEST)
    return data


def load_run(path: Path) -> Run:
    """Read one run from its directory (or its manifest file)."""
    run_dir = path.parent if path.name == MANIFEST else path
    manifest_path = run_dir / MANIFEST
    manifest = check_manifest(manifest_path, _read_json(manifest_path))
    bench_path = run_dir / BENCHMARKS
    benchmarks = _read_json(bench_path) if bench_path.exists() else {"benchmarks": []}
    if not isinstance(benchmarks, dict) or "benchmarks" not in benchmarks:
        raise UserError(f"{bench_path}: not a pytest-benchmark JSON file")
    validate(bench_path, benchmarks, schema.BENCHMARKS)
    return Run(run_dir, manifest, benchmarks)


def run_dirs(root: Path) -> list[Path]:
    """Run directories under ``root`` at any depth (a fleet nests them as ``<fleet>/<host>/``),
    sorted; a run's own subfolders are not searched, nor hidden ones (a fetch's staging)."""
    found = []
    for folder, subdirs, files in os.walk(root):
        if MANIFEST in files:
            found.append(Path(folder))
            subdirs.clear()
        else:
            subdirs[:] = [d for d in subdirs if not d.startswith(".")]
    return sorted(found)


def find_runs(paths: Iterable[Path]) -> list[Run]:
    """Runs named by the user: run directories, manifests, or folders holding run directories."""
    runs: list[Run] = []
    for path in paths:
        if not path.exists():
            raise UserError(f"results path {path} does not exist")
        if path.is_file() or (path / MANIFEST).exists():
            runs.append(load_run(path))
            continue
        found = run_dirs(path)
        if not found:
            raise UserError(f"results path {path} holds no run (no {MANIFEST} at any depth)")
        runs.extend(load_run(p) for p in found)
    return runs
