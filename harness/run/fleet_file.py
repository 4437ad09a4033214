"""Fleet files and host specs: which SSH hosts to run on, checked before anything connects.

A fleet file is TOML: ``[[host]]`` tables, with top-level keys as defaults for every host. Every
value is checked here (names, addresses, ports, users, paths), so a bad one is refused with the
file, the host and the key named, and no remote command is ever built from it.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from harness.errors import UserError


@dataclass(frozen=True)
class Host:
    """One SSH host of a fleet, and how the harness is set up there."""

    name: str
    address: str
    port: int = 22
    user: str | None = None  # None: ssh's own default (its config, or the local user)
    identity_file: Path | None = None
    known_hosts: Path | None = None  # None: ssh's default, the user's ~/.ssh/known_hosts
    check_host_key: bool = True
    instance_type: str | None = None
    price: float | None = None
    python: str = "python3"
    workdir: str = "~/.ai-cpu-harness"
    setup: Literal["venv", "existing"] = "venv"
    wheelhouse: Path | None = None

    def __post_init__(self) -> None:
        if problem := _host_problem(self):
            raise UserError(f"host {self.name!r}: {problem}")

    @property
    def target(self) -> str:
        return f"{f'[{self.address}]' if ':' in self.address else self.address}:{self.port}"


_NAME = re.compile(r"(?!logs$)[\w:@\[\]][\w.:@\[\]-]*")  # also the host's local folder name
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"  # a host name's label (or ssh alias)
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")  # a POSIX-ish login name: no shell characters


def _is_address(text: str) -> bool:
    """A host name, an IPv4 address or an IPv6 address (a zone too: ``fe80::1%eth0``)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return _HOSTNAME.fullmatch(text) is not None
    return True


def _host_problem(h: Host) -> str | None:
    texts = (h.address, h.python, h.workdir, h.user or "-")
    checks = (
        (not _NAME.fullmatch(h.name), "key 'name': use letters, digits, . _ - : @ (not 'logs')"),
        (any(not t or re.search(r"[\x00-\x1f\x7f]", t) for t in texts), "empty or control char"),
        (not _is_address(h.address), f"key 'address': {h.address!r} is not a host name or IP"),
        (type(h.port) is not int or not 0 < h.port < 65536, f"key 'port': {h.port!r} not 1-65535"),
        (h.user is not None and not _USER.fullmatch(h.user), f"key 'user': {h.user!r} is not "
         "a user name (letters, digits, _ . -)"),
        (h.price is not None and not 0 <= h.price < float("inf"), f"key 'price': {h.price!r}"),
        (h.workdir[:1] == "~" and h.workdir[:2] not in ("~", "~/"), "key 'workdir': only ~/ works"),
        (h.setup not in ("venv", "existing"), f"key 'setup': {h.setup!r} is not venv or existing"),
    )  # fmt: skip
    return next((message for bad, message in checks if bad), None)


_TYPES: dict[str, Any] = {"port": int, "price": (int, float), "check_host_key": bool}
_KINDS = {f.name: _TYPES.get(f.name, str) for f in fields(Host)}
_PATHS = ("identity_file", "known_hosts", "wheelhouse")


def _host_from_table(path: Path, index: int, table: dict[str, Any]) -> Host:
    where = f"{path}: host {table['name']!r}" if "name" in table else f"{path}: host #{index}"
    for key, value in table.items():
        if key not in _KINDS:
            raise UserError(f"{where}: unknown key {key!r} (known: {', '.join(_KINDS)})")
        if not isinstance(value, _KINDS[key]) or (type(value) is bool and key != "check_host_key"):
            raise UserError(f"{where}: key {key!r} has the wrong type ({value!r})")
    for key in ("name", "address"):
        if key not in table:
            raise UserError(f"{where}: missing key {key!r}")
    paths = {k: path.parent / Path(table[k]).expanduser() for k in _PATHS if k in table}
    try:
        return Host(**{**table, **paths})
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


def check_unique(where: str, hosts: Sequence[Host]) -> None:
    if twice := [name for name, n in Counter(h.name for h in hosts).items() if n > 1]:
        raise UserError(f"{where}: duplicate host name {twice[0]!r}")


def load_fleet(path: Path) -> list[Host]:
    """Hosts from a TOML fleet file: ``[[host]]`` tables; top-level keys are defaults for all."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    tables = data.pop("host", None)
    if bad := sorted(set(data) - set(_KINDS) | set(data) & {"name", "address"}):
        raise UserError(f"{path}: top level: unknown key {bad[0]!r} (hosts go in [[host]] tables)")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise UserError(f"{path}: no [[host]] tables")
    hosts = [_host_from_table(path, i + 1, {**data, **t}) for i, t in enumerate(tables)]
    check_unique(str(path), hosts)
    return hosts


_SPEC = re.compile(r"(?:(?P<user>[^@]+)@)?(?:\[(?P<v6>[0-9A-Fa-f:.%]+)\]|(?P<addr>[^:@\[\]]+))"
                   r"(?::(?P<port>[0-9]{1,5}))?")  # fmt: skip


def parse_host(spec: str) -> Host:
    """A host from ``--host [user@]address[:port]`` (IPv6 in brackets: ``[::1]:2222``)."""
    match = _SPEC.fullmatch(spec)
    if match is None:
        raise UserError(f"--host {spec!r}: expected [user@]address[:port], e.g. ubuntu@10.0.0.5")
    name = spec.split("@", 1)[1] if match["user"] else spec
    try:
        return Host(name, match["v6"] or match["addr"], int(match["port"] or 22), match["user"])
    except UserError as exc:
        raise UserError(f"--host {spec!r}: {exc}") from None
