"""The ``qemu-aarch64`` host: this x86 machine runs the workers under QEMU user-mode emulation.

``make aarch64-env`` builds an arm64 userland and aarch64 wheels (scripts/aarch64-env.sh); its
launcher runs the arm64 Python under QEMU and is used wherever the runner would start
``sys.executable``. Emulated timings say nothing about a real chip: results are marked
``emulated`` and are never priced or compared with native ones; what they prove is that the
kernels compile and compute the same outputs on aarch64.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from harness.errors import UserError

NAME = "qemu-aarch64"
DEFAULT_PROFILE = "neoverse-n1"  # under emulation LLVM sees a "generic" CPU: name the Arm core
ENV_DIR_VAR = "AARCH64_ENV_DIR"


def launcher() -> Path:
    """The emulated Python's launcher, or a user error saying how to build it."""
    base = os.environ.get(ENV_DIR_VAR)
    candidates = [Path(base)] if base else [Path.cwd() / ".cache" / "aarch64"]
    candidates.append(Path(__file__).resolve().parents[2] / ".cache" / "aarch64")
    for folder in candidates:
        path = folder / "bin" / "python3"
        if path.is_file() and os.access(path, os.X_OK):
            return path.resolve()
    raise UserError(f"no emulated aarch64 Python at {candidates[0]}: run `make aarch64-env` first")


def capture(python: Path, profile_env: dict[str, str], timeout_s: float = 300) -> dict[str, Any]:
    """The emulated host's environment, captured by ``harness env --json`` under QEMU."""
    env = {**os.environ, **profile_env}
    try:
        proc = subprocess.run(
            [str(python), "-m", "harness", "env", "--json"],
            capture_output=True, text=True, env=env, timeout=timeout_s, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise UserError(f"{NAME}: `harness env` timed out after {timeout_s:g} s") from None
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-2:])
        raise UserError(f"{NAME}: `harness env` failed ({proc.returncode}): {tail}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result
