"""Files the user names with ``-o``: refused when they would replace an input's results, and
written whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from harness.errors import UserError
from harness.results import BENCHMARKS, MANIFEST, Run, atomic_write_text


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing or unreadable: then it cannot be the other
        return False


def check_output(out: Path, runs: Iterable[Run], what: str) -> None:
    """Refuse ``out`` when it is a folder, its folder is missing, or it is a result file
    (manifest.json, benchmarks.json) of one of the input ``runs``: it would be replaced."""
    if out.is_dir():
        raise UserError(f"{what} {out} is a folder, not a file")
    if not out.parent.is_dir():
        raise UserError(f"{what} directory {out.parent} does not exist")
    target = out.resolve()
    for run in runs:
        for name in (MANIFEST, BENCHMARKS):
            result = run.path / name
            if target == result.resolve() or _same_file(out, result):
                raise UserError(
                    f"{what} {out} is the {name} of run {run.run_id}: "
                    "it would be replaced (choose another file)"
                )


def write_output(out: Path, text: str, what: str) -> None:
    """Write ``text`` to ``out`` atomically; a place that cannot be written is named."""
    try:
        atomic_write_text(out, text)
    except OSError as exc:
        raise UserError(f"cannot write {what} to {out}: {exc.strerror or exc}") from None
