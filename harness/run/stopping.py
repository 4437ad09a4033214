"""Stopping a run on a signal: SIGINT, SIGTERM and SIGHUP all end it the way Ctrl-C does.

The first signal raises ``Terminated`` (a ``KeyboardInterrupt``) in the main thread; every exit
path then ends what it started (workers, ssh sessions, remote runs) and the run is marked
interrupted. Further signals are ignored until that cleanup is done, so a second Ctrl-C or a
``timeout`` that sends TERM twice cannot cut it short and leave a worker behind.
"""

from __future__ import annotations

import errno
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from harness.errors import EXIT_HANGUP, EXIT_INTERRUPTED, EXIT_TERMINATED, UserError

if TYPE_CHECKING:
    from harness.results import RunWriter

# What a failed write of the run's files looks like: a full disk or quota, a read-only or
# vanished mount, permissions changed under the run.
WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                          errno.EIO, errno.ENOENT})  # fmt: skip
STATUS = {signal.SIGINT: EXIT_INTERRUPTED, signal.SIGTERM: EXIT_TERMINATED,
          signal.SIGHUP: EXIT_HANGUP}  # fmt: skip


class Terminated(KeyboardInterrupt):
    """A stop signal (TERM from ``timeout``, CI cancellation or ``kill``; HUP from a closed
    terminal or ssh session; INT from Ctrl-C), handled as Ctrl-C is."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    for sig in STATUS:
        if signal.getsignal(sig) is _stop:
            signal.signal(sig, signal.SIG_IGN)  # one stop at a time: the cleanup runs whole
    raise Terminated(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within: SIGTERM, SIGHUP and (unless ignored, as in a shell's background job) SIGINT
    raise ``Terminated``; the previous handlers are back afterwards."""
    previous: dict[int, Any] = {}
    for sig in STATUS:
        if sig != signal.SIGINT or signal.getsignal(sig) is signal.default_int_handler:
            previous[sig] = signal.signal(sig, _stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def exit_status(stop: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP (128 + the signal's number)."""
    signum = getattr(stop, "signum", signal.SIGINT)
    return STATUS.get(signal.Signals(signum), 128 + int(signum))


def cannot_write(writer: RunWriter | None, exc: OSError) -> UserError:
    """A full disk (or any failed write) mid-run, as one line: the run is marked interrupted
    when that still fits (``--resume`` finishes it either way; it keeps every finished case)."""
    where = exc.filename or (writer.run_dir if writer is not None else "the results folder")
    if writer is None:
        return UserError(f"{where}: cannot write ({exc.strerror or exc})")
    with suppress(OSError):
        writer.finish("interrupted")
    return UserError(f"{where}: cannot write ({exc.strerror or exc}); finished cases are kept: "
                     f"free space and continue with: harness run --resume {writer.run_dir.name} "
                     f"--out {writer.run_dir.parent}")  # fmt: skip
