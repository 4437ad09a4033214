"""Quietness sampling: competing load from other processes is seen and flagged."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from harness.measure import host_load


def test_a_busy_neighbour_is_counted_as_other_load() -> None:
    """A process spinning beside the measured one shows up as other load and flags noise."""
    start = host_load.snapshot(os.getpid())
    spinner = subprocess.Popen(
        [sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<1.0: pass"]
    )
    spinner.wait()
    time.sleep(0.05)
    result = host_load.measure(start)
    assert result["other_load"] > 0.2
    assert result["noisy"] is True
    assert 0.0 <= result["steal"] <= 1.0
