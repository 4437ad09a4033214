"""The SSH side of a fleet run: the wheel shipped to each host, the ``ssh`` command line, and
one line saying why a remote command failed.

Remote commands are argument lists quoted with ``shlex.quote`` (ssh hands the remote shell one
string), so no name, user or path runs anything. Host keys are checked unless a host opts out.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from harness.errors import UserError
from harness.run.fleet_file import Host

CONNECT_TIMEOUT_S = 10


def build_wheel(repo: Path, dest: Path) -> Path:
    """Build the harness wheel offline from a copy of ``repo`` (nothing is written there)."""
    skip = shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "build", "dist", "results",
                                  "tests", "out")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="harness-wheel-") as tmp:
        src = shutil.copytree(repo, Path(tmp) / "src", ignore=skip)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--no-index", "--disable-pip-version-check", "-q", "-w", str(dest), str(src)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    wheels = sorted(dest.glob("*.whl"), key=lambda p: p.stat().st_mtime)
    if done.returncode or not wheels:
        lines = [x.strip() for x in (done.stderr + done.stdout).splitlines() if x.strip()]
        # pip ends with "hint: See above"; the cause is the first line that names an error
        cause = next((x for x in lines if re.search(r"\w*Error\b|error:", x)), None)
        raise UserError(f"cannot build the harness wheel from {repo}: {cause or 'no wheel'}")
    return wheels[-1]


def sh(*words: str | PurePosixPath) -> str:
    """One shell command from words, each quoted: nothing in them is ever interpreted."""
    return " ".join(shlex.quote(str(w)) for w in words)


def ssh_argv(host: Host, command: str) -> list[str]:
    """The ``ssh`` argument list that runs ``command`` (already quoted) on ``host``."""
    opts = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}",
            "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
            "-o", f"StrictHostKeyChecking={'yes' if host.check_host_key else 'no'}"]  # fmt: skip
    if host.known_hosts is not None:  # ssh expands %-tokens and splits this value at spaces
        known = json.dumps(str(host.known_hosts).replace("%", "%%"), ensure_ascii=False)
        opts += ["-o", f"UserKnownHostsFile={known}"]
    if host.identity_file is not None:
        opts += ["-i", str(host.identity_file).replace("%", "%%"), "-o", "IdentitiesOnly=yes"]
    if host.user is not None:
        opts += ["-l", host.user]
    return ["ssh", "-T", "-a", "-x", *opts, "-p", str(host.port), "--", host.address, command]


_SSH_FAILURES = (  # what ssh prints when it fails (exit 255) -> the reason shown
    ("REMOTE HOST IDENTIFICATION HAS CHANGED", "host key does not match the known hosts file"),
    ("Host key verification failed", "unknown host key (host key checking is on)"),
    ("Permission denied|Too many authentication failures", "authentication refused"),
    ("Connection refused", "connection refused"),
    ("timed out|Timeout, server", "connection timed out"),
    ("closed by remote host|Connection reset|Connection closed|Broken pipe", "connection dropped"),
)


def cause(lines: Sequence[str]) -> str:
    """The line that best says what went wrong: the last error line, else the last line."""
    said = [line.strip() for line in lines if line.strip()] or ["no output"]
    return next((x for x in reversed(said) if re.match(r"(ERROR|\w*Error)\b", x)), said[-1])[:240]


def failure_reason(host: Host, stage: str, rc: int, lines: Sequence[str]) -> str:
    """One line saying why a remote command failed; ssh's own failures (exit 255) by kind."""
    if rc != 255:
        return f"{stage} failed (exit {rc}): {cause(lines)}"
    what = next((w for pattern, w in _SSH_FAILURES if re.search(pattern, "\n".join(lines))), "")
    where = "" if stage == "connect" else f" during {stage}"
    if not what:
        return f"ssh failed{where} ({host.target}): {cause(lines)}"
    if "host key" in what:
        return f"{what}{where} ({host.target}; known hosts: {host.known_hosts or '~/.ssh'})"
    return f"{what}{where} ({host.target})"
