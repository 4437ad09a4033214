"""Stopping runs and fleets: signals, unreachable hosts, bad fleet values and a full disk, with
real processes and a real sshd on loopback (no mocks)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from conftest import FIXTURE_WORKLOADS, ROOT, Harness
from harness.run.fleet_executor import _Failed, _Remote
from harness.run.fleet_stop import FleetStop, ends_with_stdin
from sshd import SshdFactory, free_port

HANG = ["--size", "tiny", "--mode", "speed", "--no-roofline", "--workload-path",
        str(FIXTURE_WORKLOADS), "--workloads", "fixture_slow,faulty_hang", "--min-rounds", "3",
        "--timeout", "600"]  # fmt: skip


def _env(tmp: Path) -> dict[str, str]:
    return dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"), COLUMNS="200")


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _end_what_a_test_started() -> Iterator[None]:
    """A harness a failed test left running is stopped (SIGTERM: it ends its own workers)."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def _start(args: list[str], tmp: Path) -> subprocess.Popen[str]:
    _STARTED.append(_popen(args, tmp))
    return _STARTED[-1]


def _popen(args: list[str], tmp: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "run", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env(tmp),
        # a shell's background job starts with SIGINT ignored: give it the default, as a terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def _mentioning(text: str, procs: Iterable[psutil.Process] | None = None) -> list[str]:
    """The command lines of the live processes (of ``procs``, else all) that hold ``text``."""
    found = []
    for proc in psutil.process_iter() if procs is None else procs:
        with contextlib.suppress(psutil.Error):  # it ended meanwhile
            if proc.status() != psutil.STATUS_ZOMBIE and text in " ".join(proc.cmdline()):
                found.append(" ".join(proc.cmdline()))
    return found


def _wait_for(what: str, check: Callable[[], Any], proc: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if value := check():
            return value
        if proc.poll() is not None:
            said = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"exited ({proc.returncode}) before {what}: {said}")
        time.sleep(0.05)
    raise AssertionError(f"no {what} in time")


def _stop(proc: subprocess.Popen[str], sig: int) -> str:
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    return stderr


def _manifest(run: Path) -> dict[str, Any]:
    return json.loads((run / "manifest.json").read_text())  # type: ignore[no-any-return]


# --- a local run ----------------------------------------------------------------------------


def test_sighup_during_a_hung_case_kills_its_worker_and_marks_the_run_interrupted(
    tmp_path: Path,
) -> None:
    """SIGHUP (a closed terminal or ssh session) while a case hangs exits 129 with the run
    interrupted, the finished case kept, and no worker left behind (SIGTERM: test_run.py)."""
    out = tmp_path / "out"
    proc = _start([*HANG, "--out", str(out)], tmp_path)
    hung = f"{out}/"  # then <run>/logs/faulty_hang.native.job.json
    _wait_for("hung worker", lambda: [c for c in _mentioning(hung) if "faulty_hang" in c], proc)
    stderr = _stop(proc, signal.SIGHUP)
    assert proc.returncode == 129, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    (run,) = out.iterdir()
    manifest = _manifest(run)
    assert manifest["status"] == "interrupted"
    assert [c["status"] for c in manifest["cases"]] == ["ok", "pending"]
    assert not _mentioning(f"{out}/")


def test_sigterm_during_the_roofline_probes_ends_them_and_resume_measures_the_roofline(
    tmp_path: Path, harness: Harness
) -> None:
    """SIGTERM while the roofline is measured exits 143 with no probe left running, and
    --resume measures the roofline the run still lacks."""
    out = tmp_path / "out"
    proc = _start(["--size", "tiny", "--mode", "speed", "--workloads", "triad", "--out",
                   str(out)], tmp_path)  # fmt: skip

    harness_proc = psutil.Process(proc.pid)
    probe = "harness.measure.roofline"
    _wait_for("roofline probe", lambda: _mentioning(probe, harness_proc.children()), proc)
    children = harness_proc.children(recursive=True)
    stderr = _stop(proc, signal.SIGTERM)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert not _mentioning(probe, children)
    (run,) = out.iterdir()
    assert _manifest(run)["status"] == "interrupted" and "roofline" not in _manifest(run)
    result = harness("run", "--resume", run.name, "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = _manifest(run)
    assert manifest["status"] == "complete" and "triad_gbs" in manifest["roofline"], manifest


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs (root only: skipped elsewhere), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as handle, pytest.raises(OSError):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler


def test_a_full_disk_mid_run_is_one_line_and_resume_finishes_the_run(
    tmp_path: Path, small_disk: Path, harness: Harness
) -> None:
    """The disk filling up mid-run is one line naming the run folder and the error, exit 2,
    the finished cases kept; with space again, --resume finishes the run."""
    out = small_disk / "out"
    proc = _start(["--size", "tiny,small", "--mode", "speed", "--no-roofline", "--workload-path",
                   str(FIXTURE_WORKLOADS), "--workloads", "fixture_slow", "--min-rounds", "20",
                   "--out", str(out)], tmp_path)  # fmt: skip

    def first_done() -> Path | None:
        runs = list(out.glob("*/manifest.json"))
        done = runs and any(c["status"] == "ok" for c in _manifest(runs[0].parent)["cases"])
        return runs[0].parent if done else None

    run = _wait_for("finished case", first_done, proc)
    filler = _fill(small_disk)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr
    (line,) = [x for x in stderr.splitlines() if x.startswith("harness: error:")]
    assert str(run) in line and "No space left on device" in line and f"--resume {run.name}" in line
    assert not _mentioning(f"{out}/")
    filler.unlink()
    result = harness("run", "--resume", run.name, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert [c["status"] for c in _manifest(run)["cases"]] == ["ok", "ok"]


# --- a fleet --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sshd_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdFactory]:
    """Starts real sshd servers for this module (``.start()``); all of them stop after it."""
    with SshdFactory(tmp_path_factory.mktemp("sshd")) as factory:
        yield factory


@pytest.mark.parametrize(
    ("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_stopping_a_fleet_ends_the_remote_harness_and_its_workers(
    sshd_factory: SshdFactory, tmp_path: Path, sig: int, status: int
) -> None:
    """Ctrl-C (or SIGTERM) during a fleet run exits 130 (143) and leaves no remote harness or
    worker running; the remote run is marked interrupted."""
    server = sshd_factory.start()
    host = server.host("left", workdir=str(tmp_path / "work"))
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        f'[[host]]\nname = "left"\naddress = "127.0.0.1"\nport = {host.port}\n'
        f'user = "{host.user}"\nidentity_file = "{host.identity_file}"\n'
        f'known_hosts = "{host.known_hosts}"\nsetup = "existing"\n'
        f'python = "{host.python}"\nworkdir = "{host.workdir}"\n'
    )
    proc = _start([*HANG, "--hosts", str(fleet), "--out", str(tmp_path / "out")], tmp_path)
    hung = f"{host.workdir}/results/"  # then /<run>/logs/faulty_hang.native.job.json
    _wait_for("remote hung worker", lambda: [c for c in _mentioning(hung) if "faulty_hang" in c],
              proc)  # fmt: skip
    stderr = _stop(proc, sig)
    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr
    assert not _mentioning(host.workdir)
    (run,) = Path(host.workdir, "results").iterdir()
    assert _manifest(run)["status"] == "interrupted"
    (fleet_dir,) = (tmp_path / "out").iterdir()
    (entry,) = json.loads((fleet_dir / "fleet.json").read_text())["hosts"]
    assert (entry["status"], entry["stage"], entry["reason"]) == ("failed", "run", "interrupted")


def test_an_unreachable_host_is_one_line_exit_2_and_leaves_no_fleet_folder(
    tmp_path: Path, harness: Harness
) -> None:
    """``--host`` on a closed port is one line naming the host and why, exit 2, and no empty
    fleet folder in the results."""
    port = free_port()
    out = tmp_path / "out"
    result = harness("run", "--host", f"127.0.0.1:{port}", "--size", "tiny", "--workloads",
                     "triad", "--out", str(out))  # fmt: skip
    assert result.returncode == 2, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("harness: error:")]
    assert line == f"harness: error: host 127.0.0.1:{port}: connection refused (127.0.0.1:{port})"
    assert "Traceback" not in result.stderr
    assert not out.exists() or not list(out.iterdir())


def test_a_results_stream_with_a_nameless_entry_is_a_fetch_reason_not_an_internal_error(
    sshd_factory: SshdFactory, tmp_path: Path
) -> None:
    """A remote tar stream holding an entry named '.' fails the fetch with a reason naming the
    entry (it used to raise IndexError, which became 'IndexError: tuple index out of range')."""
    server = sshd_factory.start()
    evil = tmp_path / "evil.tar"
    (tmp_path / "x").mkdir()
    with tarfile.open(evil, "w") as tar:
        tar.add(tmp_path / "x", ".")
    (tmp_path / "home").mkdir()
    remote = _Remote(server.host("h"), FleetStop(), io.StringIO())
    with pytest.raises(_Failed, match=r"fetch: unexpected entry in the results: '\.'"):
        remote.fetch(f"cat {evil} #", "run1", tmp_path / "home" / "run1")
    assert not (tmp_path / "home" / "run1").exists()


def test_a_remote_run_ends_when_its_ssh_stdin_closes(
    sshd_factory: SshdFactory, tmp_path: Path
) -> None:
    """The remote run command stops (as on SIGTERM) when its ssh's stdin closes, as it does when
    the fleet stops or this process dies."""
    server = sshd_factory.start()
    stop = FleetStop()
    remote = _Remote(server.host("h"), stop, io.StringIO())
    marker = tmp_path / "started"
    command = f"sh -c 'touch {marker}; exec sleep 299.5'"
    failed: list[BaseException] = []

    def call() -> None:
        try:
            remote.call("run", ends_with_stdin(command))
        except BaseException as exc:  # handed to the test thread
            failed.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists()
    stop.set()
    caller.join(timeout=60)
    assert not caller.is_alive()
    assert failed and "exit 143" in str(failed[0])
    assert not _mentioning("sleep 299.5")
