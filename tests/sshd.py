"""Real OpenSSH servers on loopback ports for the fleet tests (Debian's openssh-server).

``SshdFactory(tmp).start()`` (a fixture returns the factory; leaving ``with`` stops every
server it started) generates an ed25519 host key and a user key with ssh-keygen,
writes an sshd_config for 127.0.0.1 and a free port, starts ``sshd -D -e -f CONFIG``, waits
until the port accepts, and writes the matching known_hosts line. Each server is one host;
``kill()`` drops it and every session it serves at once, as a crash or a pulled cable would.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.run.fleet_file import Host

SSHD = Path("/usr/sbin/sshd")
INSTALL = "apt-get install -y openssh-server openssh-client"

CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {root}/host_key
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
MaxStartups 100
LogLevel VERBOSE
"""


def require_sshd() -> None:
    """Skip, saying how to install them, when the OpenSSH server or client is missing."""
    missing = [p for p in (str(SSHD), "ssh", "ssh-keygen") if shutil.which(p) is None]
    if missing:
        pytest.skip(f"OpenSSH not installed ({', '.join(missing)}); install it: {INSTALL}")


def free_port() -> int:
    """A loopback port nothing listens on (just now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keygen(path: Path) -> Path:
    """A new passphrase-less ed25519 key pair at ``path`` and ``path.pub``."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _signal_all(procs: list[psutil.Process], sig: int) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)


@dataclass
class SshServer:
    """One running sshd: its folder, port, keys and process."""

    root: Path
    port: int
    user_key: Path
    known_hosts: Path
    proc: subprocess.Popen[bytes]

    def host(self, name: str, **fields: Any) -> Host:
        """A fleet host for this server: setup "existing" with this test's Python."""
        values: dict[str, Any] = {
            "address": "127.0.0.1", "port": self.port, "user": getpass.getuser(),
            "identity_file": self.user_key, "known_hosts": self.known_hosts,
            "setup": "existing", "python": sys.executable,
            "workdir": str(self.root / "work" / name),
        }  # fmt: skip
        return Host(name, **{**values, **fields})

    def kill(self) -> None:
        """Drop the server and every session it serves: stop them all, then kill them."""
        stopped: dict[int, psutil.Process] = {}
        while new := [p for p in _tree(psutil.Process(self.proc.pid)) if p.pid not in stopped]:
            _signal_all(new, signal.SIGSTOP)  # a stopped process starts no new ones
            stopped.update((p.pid, p) for p in new)
        _signal_all(list(stopped.values()), signal.SIGKILL)
        self.proc.wait(timeout=10)

    @property
    def log(self) -> str:
        return (self.root / "sshd.log").read_text(errors="replace")


class SshdFactory:
    """Starts sshd servers under one folder; ``close()`` (or leaving ``with``) stops them all."""

    def __init__(self, base: Path) -> None:
        require_sshd()
        self.base = base
        self.servers: list[SshServer] = []
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege-separation dir

    def start(self) -> SshServer:
        root = self.base / f"sshd{len(self.servers)}"
        root.mkdir()
        port = free_port()
        keygen(root / "host_key")
        user_key = keygen(root / "user_key")
        shutil.copy(root / "user_key.pub", root / "authorized_keys")
        (root / "sshd_config").write_text(CONFIG.format(port=port, root=root))
        with open(root / "sshd.log", "wb") as log:
            proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(root / "sshd_config")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,  # Ctrl-C on the tests reaches it only through close()
            )  # fmt: skip
        known_hosts = root / "known_hosts"
        host_key = (root / "host_key.pub").read_text().split()
        known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        server = SshServer(root, port, user_key, known_hosts, proc)
        self.servers.append(server)
        _wait_listening(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            if server.proc.poll() is None:
                server.kill()

    def __enter__(self) -> SshdFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wait_listening(server: SshServer, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"sshd exited ({server.proc.returncode}): {server.log[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not listen on port {server.port}: {server.log[-2000:]}")
