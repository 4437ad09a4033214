"""Stopping a fleet: every remote command ends with it, on every host.

ssh without a terminal forwards no signal, so a Ctrl-C (or SIGTERM) here would leave each
host's harness and its workers running. Instead the remote run is started so that it ends as on
SIGTERM once its ssh session's stdin closes (``ends_with_stdin``): the fleet closes that stdin
when it stops, and the operating system closes it when this process dies, however it dies. The
remote harness then stops its workers and marks its run interrupted, as a local run does.
Shorter stages (connect, ship, setup, fetch) just have their ssh ended.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

STOP_GRACE_S = 60.0  # how long a stopped remote run may take to end before its ssh is killed


def ends_with_stdin(command: str) -> str:
    """``command`` (a quoted shell command) run in the background, with a watcher that sends it
    SIGTERM when stdin reaches its end; the exit status is the command's."""
    return (
        f"exec 3<&0 </dev/null; {command} 3<&- & h=$!; "
        '{ cat <&3 >/dev/null 2>&1 3<&-; kill -TERM "$h" 2>/dev/null; } >/dev/null 2>&1 & w=$!; '
        'exec 3<&-; wait "$h"; rc=$?; kill "$w" 2>/dev/null; exit "$rc"'
    )


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Tell a remote run to stop (close its stdin); end any other remote command's ssh."""
    with suppress(OSError):
        if proc.stdin is not None:
            proc.stdin.close()
        else:
            proc.terminate()


class FleetStop:
    """The fleet's stop flag, and the live ssh commands that setting it ends."""

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[bytes]] = set()

    def is_set(self) -> bool:
        return self._flag.is_set()

    def set(self) -> None:
        """Stop: no stage starts, every live command is ended (killed after STOP_GRACE_S)."""
        with self._lock:
            self._flag.set()
            for proc in self._live:
                _end(proc)
        timer = threading.Timer(STOP_GRACE_S, self._kill_all)
        timer.daemon = True
        timer.start()

    def _kill_all(self) -> None:
        with self._lock:
            for proc in self._live:
                with suppress(OSError):
                    proc.kill()

    @contextmanager
    def watching(self, proc: subprocess.Popen[bytes]) -> Iterator[None]:
        """While within, ``set`` ends ``proc`` (at once, if the fleet has stopped already)."""
        with self._lock:
            self._live.add(proc)
            if self._flag.is_set():
                _end(proc)
        try:
            yield
        finally:
            with self._lock:
                self._live.discard(proc)
