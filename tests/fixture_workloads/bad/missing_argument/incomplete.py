"""Test-only bad workload: its declaration lacks required arguments."""

from harness.workload import Workload

WORKLOAD = Workload(name="incomplete", category="probe")  # type: ignore[call-arg]
