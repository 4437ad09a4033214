"""The SSH fleet runner, against real sshd servers on loopback ports (no mocks)."""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from conftest import FIXTURE_WORKLOADS, ROOT, Harness
from harness.errors import UserError
from harness.results import find_runs, load_run
from harness.run.fleet_executor import fleet_exit_code, run_fleet
from harness.run.fleet_file import Host, load_fleet, parse_host
from harness.run.ssh import ssh_argv
from sshd import SshdFactory, SshServer, free_port, keygen

TRIAD = ["--size", "tiny", "--workloads", "triad", "--mode", "speed", "--no-roofline"]
SLOW = ["--size", "tiny", "--workloads", "fixture_slow", "--mode", "speed", "--no-roofline",
        "--workload-path", str(FIXTURE_WORKLOADS), "--min-rounds", "40"]  # fmt: skip


def _fleet(hosts: list[Host], args: list[str], out: Path) -> dict[str, Any]:
    printed = io.StringIO()
    fleet_dir = run_fleet(hosts, args, out, Console(file=printed, width=300), ROOT)
    record = json.loads((fleet_dir / "fleet.json").read_text())
    by_name = {entry["name"]: entry for entry in record["hosts"]}
    return {"dir": fleet_dir, "hosts": by_name, "console": printed.getvalue()}


# --- fleet files and host specs -------------------------------------------------------------


def test_load_fleet_reads_hosts_with_top_level_defaults(tmp_path: Path) -> None:
    """Top-level keys apply to every host, and relative paths are read from the file's folder."""
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        'user = "ubuntu"\nidentity_file = "keys/fleet"\nwheelhouse = "wheels"\n'
        '[[host]]\nname = "graviton4"\naddress = "10.0.0.5"\ninstance_type = "c8g.xlarge"\n'
        '[[host]]\nname = "epyc"\naddress = "10.0.0.6"\nport = 2222\nuser = "admin"\n'
        'price = 0.5\nsetup = "existing"\ncheck_host_key = false\n'
    )
    a, b = load_fleet(fleet)
    assert (a.name, a.address, a.port, a.user) == ("graviton4", "10.0.0.5", 22, "ubuntu")
    assert a.identity_file == tmp_path / "keys/fleet" and a.wheelhouse == tmp_path / "wheels"
    assert a.instance_type == "c8g.xlarge" and a.check_host_key and a.known_hosts is None
    assert (b.port, b.user, b.price, b.setup, b.check_host_key) == (2222, "admin", 0.5,
                                                                   "existing", False)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('[[host]]\nname = "a"\naddress = "h"\nprot = 22\n', ["host 'a'", "'prot'"]),
        ('[[host]]\naddress = "h"\n', ["host #1", "'name'"]),
        ('[[host]]\nname = "a"\n', ["host 'a'", "'address'"]),
        ('[[host]]\nname = "a"\naddress = "h"\n[[host]]\nname = "a"\naddress = "i"\n',
         ["duplicate host name 'a'"]),
        ('[[host]]\nname = "a"\naddress = "h"\nport = 70000\n', ["host 'a'", "'port'"]),
        ('[[host]]\nname = "a"\naddress = "h"\nport = "22"\n', ["host 'a'", "'port'"]),
        ('[[host]]\nname = "a"\naddress = "h"\nsetup = "docker"\n', ["host 'a'", "'setup'"]),
        ('[[host]]\nname = "x; touch /tmp/pwned"\naddress = "h"\n', ["'name'"]),
        ('[[host]]\nname = "a"\naddress = "-oProxyCommand=x"\n', ["host 'a'", "'address'"]),
        ('[[host]]\nname = "a"\naddress = "h$(touch x)"\n', ["'address'", "'h$(touch x)'"]),
        ('[[host]]\nname = "a"\naddress = "`touch x`"\n', ["'address'", "'`touch x`'"]),
        ('[[host]]\nname = "a"\naddress = "h;touch x"\n', ["'address'", "'h;touch x'"]),
        ('[[host]]\nname = "a"\naddress = "h"\nuser = "u;touch x"\n', ["'user'", "'u;touch x'"]),
        ('[[host]]\nname = "a"\naddress = "h"\nuser = "$(id)"\n', ["'user'", "'$(id)'"]),
        ('addres = "h"\n[[host]]\nname = "a"\naddress = "h"\n', ["top level", "'addres'"]),
        ('name = "a"\n', ["top level", "'name'"]),
        ("[host]\nname = 1\n", ["no [[host]] tables"]),
        ("[[host]\n", ["not valid TOML"]),
    ],
)  # fmt: skip
def test_load_fleet_names_the_file_host_and_key_of_each_mistake(
    tmp_path: Path, body: str, named: list[str]
) -> None:
    """A bad fleet file is a user error that names the file, the host and the key."""
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(body)
    with pytest.raises(UserError) as error:
        load_fleet(fleet)
    for part in [str(fleet), *named]:
        assert part in str(error.value)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("ubuntu@10.0.0.5:2222", ("10.0.0.5:2222", "10.0.0.5", 2222, "ubuntu")),
        ("10.0.0.5", ("10.0.0.5", "10.0.0.5", 22, None)),
        ("ec2-user@host.example", ("host.example", "host.example", 22, "ec2-user")),
        ("root@[::1]:2200", ("[::1]:2200", "::1", 2200, "root")),
    ],
)
def test_parse_host_reads_user_address_and_port(spec: str, expected: tuple[Any, ...]) -> None:
    """``--host [user@]address[:port]`` gives a host named after its address and port."""
    host = parse_host(spec)
    assert (host.name, host.address, host.port, host.user) == expected


@pytest.mark.parametrize("spec", ["", "u@", "a:b:c", "a:99999", "h:0", "-oProxyCommand=x", "a b"])
def test_parse_host_refuses_a_malformed_spec(spec: str) -> None:
    """A malformed ``--host`` spec is a user error that quotes it."""
    with pytest.raises(UserError, match="--host"):
        parse_host(spec)


def test_ssh_checks_host_keys_by_default_and_never_prompts() -> None:
    """The ssh command checks host keys, runs in batch mode, and ends options before the host."""
    argv = ssh_argv(Host("a", "10.0.0.5", user="u"), "true")
    assert "StrictHostKeyChecking=yes" in argv and "BatchMode=yes" in argv
    assert argv[-3:] == ["--", "10.0.0.5", "true"] and argv[argv.index("-l") + 1] == "u"
    relaxed = ssh_argv(Host("a", "10.0.0.5", check_host_key=False), "true")
    assert "StrictHostKeyChecking=no" in relaxed


def test_run_fleet_refuses_no_hosts_and_duplicate_names(tmp_path: Path) -> None:
    """A fleet needs at least one host, and distinct names (each names its results folder)."""
    with pytest.raises(UserError, match="no hosts"):
        run_fleet([], TRIAD, tmp_path, Console(file=io.StringIO()), ROOT)
    with pytest.raises(UserError, match="duplicate host name 'a'"):
        run_fleet([Host("a", "h"), Host("a", "i")], TRIAD, tmp_path, Console(), ROOT)
    assert not list(tmp_path.iterdir())


# --- a fleet with good and faulty hosts -----------------------------------------------------


@pytest.fixture(scope="module")
def sshd_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdFactory]:
    """Starts real sshd servers for this module (``.start()``); all of them stop after it."""
    with SshdFactory(tmp_path_factory.mktemp("sshd")) as factory:
        yield factory


def _pwned(root: Path) -> list[Path]:
    return [root / f"pwned{i}" for i in range(3)]


@pytest.fixture(scope="module")
def mixed(sshd_factory: SshdFactory, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two good hosts (one with shell characters in its workdir) beside five faulty ones."""
    tmp = tmp_path_factory.mktemp("mixed")
    a, b = sshd_factory.start(), sshd_factory.start()
    empty, changed, unchecked = (tmp / f"{n}_known_hosts" for n in ("empty", "changed", "off"))
    empty.write_text("")
    unchecked.write_text("")
    changed.write_text(a.known_hosts.read_text().replace(f":{a.port}", f":{b.port}"))
    p = _pwned(tmp)
    weird = f"{b.root}/work/$(touch {p[0]})/`touch {p[1]}`;touch {p[2]}"
    hosts = [
        a.host("a"),
        b.host("b", workdir=weird),
        a.host("refused", port=free_port()),
        a.host("noauth", identity_file=keygen(tmp / "stranger_key")),
        b.host("unknownkey", known_hosts=empty),
        b.host("changedkey", known_hosts=changed),
        b.host("nokeycheck", known_hosts=unchecked, check_host_key=False, python="/no/python3"),
    ]
    result = _fleet(hosts, TRIAD, tmp / "out")
    return {**result, "servers": (a, b), "weird": weird, "pwned": p}


@pytest.mark.slow
def test_two_hosts_run_concurrently_and_their_runs_come_home(mixed: dict[str, Any]) -> None:
    """Each good host's run lands in <fleet>/<host>/ and find_runs sees one run per host."""
    fleet_dir, hosts = mixed["dir"], mixed["hosts"]
    runs = {run.path.name: run for run in find_runs([fleet_dir])}
    assert sorted(runs) == ["a", "b"]
    for name, run in runs.items():
        assert run.run_id == hosts[name]["run_id"] and hosts[name]["status"] == "ok"
        assert [c["status"] for c in run.manifest["cases"]] == ["ok"]
        assert run.manifest["cases"][0]["workload"] == "triad" and run.benchmarks["benchmarks"]
    a, b = hosts["a"], hosts["b"]
    assert a["started"] < b["finished"] and b["started"] < a["finished"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("refused", "connection refused ({target})"),
        ("noauth", "authentication refused ({target})"),
        ("unknownkey", "unknown host key (host key checking is on) ({target}; known hosts: "),
        ("changedkey", "host key does not match the known hosts file ({target}; known hosts: "),
    ],
)
def test_each_faulty_host_is_reported_in_one_line_and_the_others_finish(
    mixed: dict[str, Any], name: str, reason: str
) -> None:
    """A refused, unauthorized or untrusted host fails with its reason; the good hosts finish."""
    entry = mixed["hosts"][name]
    expected = reason.format(target=f"127.0.0.1:{entry['port']}")
    assert entry["status"] == "failed" and entry["stage"] == "connect"
    assert entry["reason"].startswith(expected)
    assert f"host {name}: {expected}" in mixed["console"]
    assert not (mixed["dir"] / name).exists()
    assert mixed["hosts"]["a"]["status"] == mixed["hosts"]["b"]["status"] == "ok"


@pytest.mark.slow
def test_host_key_opt_out_connects_to_an_unknown_host(mixed: dict[str, Any]) -> None:
    """With check_host_key = false an unknown host is let in (here failing later, at setup)."""
    entry = mixed["hosts"]["nokeycheck"]
    assert (entry["status"], entry["stage"]) == ("failed", "setup")
    assert entry["reason"].startswith("setup failed (exit 127): ")
    assert "/no/python3" in entry["reason"]


@pytest.mark.slow
def test_shell_characters_in_workdir_and_user_run_nothing(mixed: dict[str, Any]) -> None:
    """A workdir holding $(...), backticks and ; is passed literally and runs nothing."""
    assert not [p for p in mixed["pwned"] if p.exists()]
    assert (Path(mixed["weird"]) / "lib" / "harness" / "cli.py").is_file()
    assert mixed["hosts"]["b"]["status"] == "ok"


@pytest.mark.slow
def test_each_host_logs_its_remote_commands_output(mixed: dict[str, Any]) -> None:
    """logs/<host>.log holds each remote command and what it printed, ssh's errors included."""
    logs = mixed["dir"] / "logs"
    assert sorted(p.name for p in logs.iterdir()) == sorted(f"{n}.log" for n in mixed["hosts"])
    good = (logs / "a.log").read_text()
    for stage in ("connect", "ship", "setup", "run", "fetch"):
        assert f"[{stage}] exit 0" in good
    assert f"results: {mixed['servers'][0].root}/work/a/results/" in good
    assert "Connection refused" in (logs / "refused.log").read_text()


@pytest.mark.slow
def test_fleet_exit_code_is_zero_only_when_every_host_and_case_passed(
    mixed: dict[str, Any], tmp_path: Path
) -> None:
    """One failed host, or one failed case on a good host, makes the fleet's exit code 1."""
    assert fleet_exit_code(mixed["dir"]) == 1
    good = tmp_path / "fleet"
    shutil.copytree(mixed["dir"], good)
    record = json.loads((good / "fleet.json").read_text())
    record["hosts"] = [h for h in record["hosts"] if h["status"] == "ok"]
    (good / "fleet.json").write_text(json.dumps(record))
    assert fleet_exit_code(good) == 0
    manifest = json.loads((good / "a" / "manifest.json").read_text())
    manifest["cases"][0]["status"] = "failed"
    (good / "a" / "manifest.json").write_text(json.dumps(manifest))
    assert fleet_exit_code(good) == 1


# --- a host dropped mid-run, and a failed setup ---------------------------------------------


def _kill_when_running(server: SshServer, host: Host, done: threading.Event) -> bool:
    """Kill ``server`` once the remote run has written its manifest; False if it never did."""
    deadline = time.monotonic() + 120
    while not done.is_set() and time.monotonic() < deadline:
        if list(Path(host.workdir).glob("results/*/manifest.json")):
            server.kill()
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def dropped(sshd_factory: SshdFactory, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A fleet whose host c loses its sshd (and sessions) mid-run, beside a venv setup failure."""
    tmp = tmp_path_factory.mktemp("dropped")
    a, c = sshd_factory.start(), sshd_factory.start()
    (tmp / "wheelhouse").mkdir()
    hosts = [
        a.host("a", workdir=str(tmp / "a")),
        c.host("c", workdir=str(tmp / "c")),
        a.host("novenv", setup="venv", wheelhouse=tmp / "wheelhouse", workdir=str(tmp / "v")),
    ]
    done, result = threading.Event(), {}

    def fleet() -> None:
        try:
            result.update(_fleet(hosts, SLOW, tmp / "out"))
        finally:
            done.set()

    worker = threading.Thread(target=fleet)
    worker.start()
    killed = _kill_when_running(c, hosts[1], done)
    worker.join(timeout=180)
    return {**result, "killed": killed, "port": c.port}


@pytest.mark.slow
def test_host_dropped_mid_run_is_reported_and_other_results_are_kept(
    dropped: dict[str, Any],
) -> None:
    """Killing a host's sshd mid-run fails that host as dropped; the other host's run is kept."""
    assert dropped["killed"], "the remote run never started"
    c = dropped["hosts"]["c"]
    assert (c["status"], c["stage"]) == ("failed", "run")
    assert c["reason"] == f"connection dropped during run (127.0.0.1:{dropped['port']})"
    assert f"host c: {c['reason']}" in dropped["console"]
    runs = find_runs([dropped["dir"]])
    assert [run.path.name for run in runs] == ["a"]
    assert [case["status"] for case in load_run(dropped["dir"] / "a").manifest["cases"]] == ["ok"]
    assert fleet_exit_code(dropped["dir"]) == 1


@pytest.mark.slow
def test_failed_setup_is_reported_with_the_installer_reason(dropped: dict[str, Any]) -> None:
    """A venv setup whose dependencies are not in the wheelhouse fails with pip's own line."""
    entry = dropped["hosts"]["novenv"]
    assert (entry["status"], entry["stage"]) == ("failed", "setup")
    assert entry["reason"].startswith("setup failed (exit 1): ERROR: ")
    assert "numba" in entry["reason"] or "distribution" in entry["reason"]


@pytest.mark.slow
def test_cli_runs_a_fleet_file_end_to_end(
    sshd_factory: SshdFactory, tmp_path: Path, harness: Harness
) -> None:
    """``harness run --hosts fleet.toml`` runs both hosts and brings both runs home."""
    a, b = sshd_factory.start(), sshd_factory.start()
    rows = []
    for server, name in ((a, "left"), (b, "right")):
        host = server.host(name)
        rows.append(
            f'[[host]]\nname = "{name}"\naddress = "127.0.0.1"\nport = {host.port}\n'
            f'user = "{host.user}"\nidentity_file = "{host.identity_file}"\n'
            f'known_hosts = "{host.known_hosts}"\nsetup = "existing"\n'
            f'python = "{host.python}"\nworkdir = "{host.workdir}"\n'
        )
    fleet = tmp_path / "fleet.toml"
    fleet.write_text("\n".join(rows))
    out = tmp_path / "out"
    result = harness("run", "--hosts", str(fleet), "--size", "tiny", "--workloads", "triad",
                     "--mode", "speed", "--no-roofline", "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (fleet_dir,) = list(out.iterdir())
    assert sorted(run.path.name for run in find_runs([fleet_dir])) == ["left", "right"]
    assert f"results: {fleet_dir}" in result.stdout
