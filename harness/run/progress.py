"""A run's progress: processes done of all, the case now running, and the time left.

On a terminal it is a bar (cases x processes, elapsed, ETA). Off one (CI logs, ``nohup``) a bar
draws nothing, so a plain line is printed at least every ``HARNESS_PROGRESS_EVERY`` seconds
(default 30) from a timer thread: an emulated compile can take a minute without an event.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from harness.errors import UserError
from harness.run.plan import Case
from harness.untrusted import terminal

EVERY_VAR = "HARNESS_PROGRESS_EVERY"


def progress_every() -> float:
    """Seconds between plain progress lines; a bad setting is refused, not replaced."""
    text = os.environ.get(EVERY_VAR, "30")
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise UserError(f"{EVERY_VAR}={text!r} must be a number of seconds above 0, such as 30")
    return max(seconds, 0.1)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class RunProgress:
    """The progress callback a run's workers report to, and what it shows."""

    def __init__(
        self,
        console: Console,
        total: int,
        processes: int,
        line: Callable[[dict[str, Any]], str],
        seen: dict[str, int],
    ) -> None:
        self.console, self.total, self.processes, self.line = console, total, processes, line
        self.done, self.now, self.started = 0, "starting", time.monotonic()
        self.seen = dict(seen)  # case id: processes finished (a resumed run's kept ones too)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())  # fmt: skip
        self.bar = Progress(*columns, console=console, transient=True)
        self.task = self.bar.add_task("starting", total=total)
        self.stop, self.every = threading.Event(), progress_every()

    def __enter__(self) -> RunProgress:
        self.bar.__enter__()
        if not self.console.is_terminal:
            threading.Thread(target=self._beat, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.bar.__exit__(None, None, None)

    def status(self) -> str:
        """Processes done of all, time spent, time left at the pace so far, the case running."""
        spent = time.monotonic() - self.started
        left = f", about {_clock(spent / self.done * (self.total - self.done))} left" if (
            self.done) else ""  # fmt: skip
        return f"progress: {self.done}/{self.total} processes, {_clock(spent)} spent{left}; " + (
            f"now {self.now}"
        )

    def _beat(self) -> None:
        while not self.stop.wait(self.every):
            self.console.print(self.status(), highlight=False)

    def __call__(self, kind: str, case: Case, record: dict[str, Any] | None) -> None:
        if kind == "start":
            number = self.seen.get(case.id, 0)
            where = f" (process {number + 1}/{self.processes})" if self.processes > 1 else ""
            where = f" (process {number + 1}, added for --ci-target)" if (
                number >= self.processes > 1) else where  # fmt: skip
            self.now = f"{terminal(case.id)}{where}"  # shown as markup: escaped
            self.bar.update(self.task, description=f"[cyan]{self.now}")
        elif record is not None:
            # not a finished case shown as running
            self.now = f"{terminal(case.id)} finished, the next starting"
            self.seen[case.id] = self.seen.get(case.id, 0) + 1
            if self.seen[case.id] == self.processes or record.get("status") != "ok":
                self.bar.console.print(self.line(record))
            self.advance(1)

    def grow(self, count: int) -> None:
        """More processes to run than planned (``--ci-target`` added a pass)."""
        self.total += count
        self.bar.update(self.task, total=self.total)

    def advance(self, count: int) -> None:
        self.settle(self.done + count)

    def settle(self, done: int) -> None:
        """Processes done, run or skipped (a failed case's later processes are never run)."""
        self.done = min(self.total, done)
        self.bar.update(self.task, completed=self.done)
