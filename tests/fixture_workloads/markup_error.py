"""Test-only workload: its speed kernel raises an error that is rich markup and escape codes."""

from __future__ import annotations

import numpy as np

from harness.workload import Workload

SIZES = {"tiny": 8, "small": 8, "default": 8, "large": 8}
# "[/red]" once raised MarkupError in the progress line and aborted the run; the rest would
# style, link or recolour the terminal if printed as they are (":smiley:" would be an emoji).
MESSAGE = (
    "[/red] [link=http://evil.example]click[/link] \x1b[31mred\x1b]8;;http://x\x07 \u202e :smiley:"
)


def _inputs(n: int, rng: np.random.Generator) -> tuple[np.ndarray]:
    return (rng.integers(0, 100, size=n),)


def _double(x: np.ndarray) -> np.ndarray:
    return x * 2


def _raise(x: np.ndarray) -> np.ndarray:
    raise RuntimeError(MESSAGE)


WORKLOAD = Workload(
    name="faulty_markup", category="probe", description="test-only: faulty_markup",
    unit="items", bound="compute", sizes=SIZES, work=float, bytes=float, flops=float,
    make_inputs=_inputs, speed=_raise, rate=_double, reference=_double, rtol=0, atol=0,
)  # fmt: skip
