"""Run the suite on a fleet of SSH hosts at once: ship the harness, set up, run, fetch results.

Each host runs through the stages connect, ship, setup, run, fetch (``harness.run.ssh`` builds
the commands and says why one failed). One failing host never stops the others; each finished
host's run lands in ``<fleet>/<host>/``.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from harness.errors import UserError
from harness.results import atomic_write_json, load_run, make_run_dir, new_run_id
from harness.run.fleet_file import Host, check_unique
from harness.run.fleet_stop import FleetStop, ends_with_stdin
from harness.run.ssh import build_wheel, cause, failure_reason, sh, ssh_argv
from harness.untrusted import terminal

FLEET = "fleet.json"
STAGES = ("connect", "ship", "setup", "run", "fetch")
_PIP = ("-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q")


class _Failed(Exception):
    """A host's stage failed; the message is the one-line reason."""


@dataclass
class _Fleet:
    """One fleet run: its hosts, its record (fleet.json) and its stop flag."""

    fleet_dir: Path
    hosts: list[Host]
    wheel: Path
    run_args: list[str]
    record: dict[str, Any]
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: FleetStop = field(default_factory=FleetStop)

    def update(self, index: int | None = None, **values: Any) -> None:
        with self.lock:
            (self.record if index is None else self.record["hosts"][index]).update(values)
            atomic_write_json(self.fleet_dir / FLEET, self.record)


@dataclass
class _Remote:
    """One host's commands over ssh: logged, their failures turned into one-line reasons."""

    host: Host
    stop: FleetStop
    log: IO[str]

    def call(self, stage: str, command: str, stdin: Path | None = None, stdout: Path | None = None,
             ok: int = 0) -> list[str]:  # fmt: skip
        """Run ``command`` there (exit 0..``ok`` is success); its last lines (or errors, with
        ``stdout``: a file that takes its output) come back."""
        if self.stop.is_set():
            raise _Failed("interrupted")
        argv = ssh_argv(self.host, command)
        self.log.write(f"\n[{stage}] $ {shlex.join(argv)}\n")
        tail: deque[str] = deque(maxlen=200)
        with (
            open(stdin or "/dev/null", "rb") as source, open(stdout or "/dev/null", "wb") as sink,
            # the run's stdin stays open while it runs: closed, the remote run stops (fleet_stop);
            # its own session: a Ctrl-C here reaches ssh only that way, not by the terminal
            subprocess.Popen(argv, stdin=subprocess.PIPE if stage == "run" else source,
                             stdout=sink if stdout else subprocess.PIPE, start_new_session=True,
                             stderr=subprocess.PIPE if stdout else subprocess.STDOUT) as proc,
            self.stop.watching(proc),
        ):  # fmt: skip
            for raw in proc.stderr if stdout else proc.stdout:  # type: ignore[union-attr]
                self.log.write(raw.decode(errors="replace"))
                tail.append(raw.decode(errors="replace").rstrip("\n"))
        self.log.write(f"[{stage}] exit {proc.returncode}\n")
        if not 0 <= proc.returncode <= ok:
            raise _Failed(failure_reason(self.host, stage, proc.returncode, tail))
        return list(tail)

    def fetch(self, tar_command: str, run_id: str, dest: Path) -> None:
        """Copy the remote run folder to ``dest`` as a tar stream, checked entry by entry."""
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest.parent))
        try:
            self.call("fetch", f"{tar_command} {sh(run_id)}", stdout=staging / "t")
            with tarfile.open(staging / "t") as tar:
                tar.extraction_filter = getattr(tarfile, "data_filter", None)
                for member in tar:
                    parts = PurePosixPath(member.name).parts or ("",)  # "." has no parts
                    if parts[0] != run_id or ".." in parts or not member.isfile() | member.isdir():
                        raise _Failed(f"fetch: unexpected entry in the results: {member.name!r}")
                    tar.extract(member, staging, set_attrs=False)
            (staging / run_id).rename(dest)
        except (tarfile.TarError, OSError) as exc:
            raise _Failed(f"fetch: cannot unpack the results: {exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _commands(host: Host, w: PurePosixPath, wheel: str, run_args: Sequence[str]) -> dict[str, str]:
    """The later stages' remote commands in the absolute workdir ``w``, every word quoted."""
    py, existing, pkg = w / "venv/bin/python", host.setup == "existing", f"./{wheel}"
    index = ["--no-index", "--find-links", str(w / "wheelhouse")] if host.wheelhouse else []
    run = ["env", "PYTHONUNBUFFERED=1", *([f"PYTHONPATH={w / 'lib'}"] if existing else []),
           host.python if existing else str(py), "-m", "harness", "run", *run_args]  # fmt: skip
    if not any(a.startswith("--cache-dir") for a in run_args):
        run += ["--cache-dir", str(w / "numba-cache")]
    run += ["--instance-type", host.instance_type] if host.instance_type else []
    run += ["--price", repr(float(host.price))] if host.price is not None else []
    here = f"cd -- {sh(w / 'ship')} && "  # pip reads a ';' in a wheel's path as a marker
    return {
        "ship": sh("tar", "--no-same-owner", "-C", w, "-xf", "-"),
        "existing": here + sh(host.python, *_PIP, "--no-deps", "--no-index", "--upgrade",
                               "--target", w / "lib", pkg),
        "venv": f"{here}{{ test -x {sh(py)} || {sh(host.python, '-m', 'venv', w / 'venv')}; }}"
                f" && {sh(py, *_PIP, *index, pkg)} && "
                f"{sh(py, *_PIP, '--no-deps', '--force-reinstall', '--no-index', pkg)}",
        "run": ends_with_stdin(sh(*run, "--out", w / "results")),
        "fetch": sh("tar", "-C", w / "results", "-cf", "-"),
    }  # fmt: skip


def _printed(lines: Sequence[str], prefix: str, what: str) -> str:
    """The value of the last ``PREFIX VALUE`` line a remote command printed."""
    value = next((x[len(prefix) :].strip() for x in reversed(lines) if x.startswith(prefix)), "")
    if not value:
        raise _Failed(f"{what}: {cause(lines)}")
    return value


def _stages(remote: _Remote, wheel: Path, run_args: Sequence[str], dest: Path) -> Iterator[str]:
    """Do one host's work, yielding each stage's name as it begins."""
    host = remote.host
    yield "connect"
    w = host.workdir[1:].lstrip("/") or "." if host.workdir[:1] == "~" else host.workdir
    make = sh("mkdir", "-p", "--", f"{w}/ship", f"{w}/results")  # ssh starts in the home folder
    here = "cd -- " + sh(w) + """ && printf 'workdir=%s\\n' "$PWD" """
    lines = remote.call("connect", f"{make} && {here}")
    work = PurePosixPath("/", _printed(lines, "workdir=/", "connect: no workdir printed"))
    command = _commands(host, work, wheel.name, run_args)
    yield "ship"
    with tempfile.TemporaryDirectory(prefix="harness-ship-") as tmp:
        with tarfile.open(Path(tmp) / "ship.tar", "w") as tar:
            tar.add(wheel, f"ship/{wheel.name}")
            if host.setup == "venv" and host.wheelhouse is not None:
                tar.add(host.wheelhouse, "wheelhouse")
        remote.call("ship", command["ship"], stdin=Path(tmp) / "ship.tar")
    yield "setup"
    remote.call("setup", command[host.setup])
    yield "run"
    results = _printed(remote.call("run", command["run"], ok=1), "results: ", "no results line")
    yield "fetch"
    remote.fetch(command["fetch"], PurePosixPath(results).name, dest)


def _host_result(dest: Path) -> dict[str, Any]:
    run = load_run(dest)
    failed = sum(case.status != "ok" for case in run.results)
    return {"status": "ok", "run_id": run.run_id, "cases_ok": len(run.results) - failed,
            "cases_failed": failed}  # fmt: skip


def _do_host(fleet: _Fleet, index: int, bar: Progress, task: TaskID) -> None:
    """Run one host from start to finish, record how it went and print one line; never raises."""
    host, dest = fleet.hosts[index], fleet.fleet_dir / fleet.hosts[index].name
    fleet.update(index, status="running", started=datetime.now(UTC).isoformat())
    values: dict[str, Any] = {"status": "failed"}
    with open(fleet.fleet_dir / "logs" / f"{host.name}.log", "w", buffering=1) as log:
        try:
            for stage in _stages(_Remote(host, fleet.stop, log), fleet.wheel, fleet.run_args, dest):
                fleet.update(index, stage=stage)
                bar.update(task, description=stage, completed=STAGES.index(stage))
            values = _host_result(dest)
        except _Failed as exc:
            values["reason"] = "interrupted" if fleet.stop.is_set() else str(exc)
        except Exception as exc:  # a bug here must not take the other hosts down
            values["reason"] = f"{type(exc).__name__}: {exc}"
        log.write(f"\n[{values['status']}] {values.get('reason') or values.get('run_id')}\n")
    fleet.update(index, finished=datetime.now(UTC).isoformat(), **values)
    bar.update(task, description=values["status"], completed=len(STAGES))
    run_id = terminal(values.get("run_id"))
    ok = f"[green]ok[/] run {run_id}: {values.get('cases_ok')} cases ok" + (
        f", [red]{values.get('cases_failed')} failed[/]" if values.get("cases_failed") else ""
    )
    bad = f"[red]{terminal(values.get('reason'))}[/]"
    bar.console.print(f"host {terminal(host.name)}: {ok if values['status'] == 'ok' else bad}")


def _drive(fleet: _Fleet, console: Console) -> None:
    columns = (TextColumn("{task.fields[host]}"), TextColumn("[cyan]{task.description}"),
               BarColumn(), TimeElapsedColumn())  # fmt: skip
    with (
        Progress(*columns, console=console, transient=True) as bar,
        ThreadPoolExecutor(max_workers=len(fleet.hosts)) as pool,
    ):
        tasks = [bar.add_task("waiting", total=len(STAGES), host=terminal(h.name))
                 for h in fleet.hosts]  # fmt: skip
        futures = [pool.submit(_do_host, fleet, i, bar, task) for i, task in enumerate(tasks)]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            fleet.stop.set()  # no host starts a new stage, and every remote command ends
            raise


def run_fleet(
    hosts: Sequence[Host], run_args: Sequence[str], out: Path, console: Console, repo: Path
) -> Path:
    """Run ``harness run RUN_ARGS`` on every host at once; returns ``out/<fleet-id>/``.

    Each host's run comes home as ``<fleet>/<host>/`` (an ordinary run directory), its remote
    commands' output as ``<fleet>/logs/<host>.log``, and every host's outcome in ``fleet.json``.
    """
    if not hosts:
        raise UserError("no hosts to run on")
    check_unique("the fleet", hosts)
    with tempfile.TemporaryDirectory(prefix="harness-fleet-") as tmp:
        with console.status("building the harness wheel"):
            wheel = build_wheel(repo, Path(tmp))
        fleet_dir = make_run_dir(out, new_run_id())
        (fleet_dir / "logs").mkdir()
        entries = [{**{k: str(v) if isinstance(v, Path) else v for k, v in asdict(h).items()},
                    "log": f"logs/{h.name}.log", "status": "pending", "stage": None,
                    "reason": None, "run_id": None} for h in hosts]  # fmt: skip
        record = {"schema": "ai-cpu-harness/fleet", "schema_version": 1,
                  "fleet_id": fleet_dir.name, "created": datetime.now(UTC).isoformat(),
                  "run_args": list(run_args), "wheel": wheel.name, "hosts": entries}  # fmt: skip
        fleet = _Fleet(fleet_dir, list(hosts), wheel, list(run_args), record)
        fleet.update()
        where = f"{terminal(fleet_dir)}: {len(hosts)} hosts"
        console.print(f"fleet [bold]{terminal(fleet_dir.name)}[/] → {where}")
        try:
            _drive(fleet, console)
        finally:
            fleet.update(finished=datetime.now(UTC).isoformat())
    if all(entry["status"] == "failed" and entry["stage"] == "connect" for entry in entries):
        shutil.rmtree(fleet_dir, ignore_errors=True)  # no host reached: nothing to keep
        raise UserError("; ".join(f"host {e['name']}: {e['reason']}" for e in entries))
    ok = sum(entry["status"] == "ok" for entry in entries)
    console.print(terminal(f"fleet {fleet_dir.name}: {ok} of {len(hosts)} hosts ok → {fleet_dir}"))
    return fleet_dir


def fleet_exit_code(fleet_dir: Path) -> int:
    """0 when every host finished and every case of every host passed, else 1."""
    try:
        hosts = json.loads((fleet_dir / FLEET).read_text(encoding="utf-8"))["hosts"]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{fleet_dir / FLEET}: cannot read ({exc})") from None
    if any(h["status"] != "ok" for h in hosts):
        return 1
    runs = [load_run(fleet_dir / h["name"]) for h in hosts]
    return int(any(c.status != "ok" for run in runs for c in run.results))
