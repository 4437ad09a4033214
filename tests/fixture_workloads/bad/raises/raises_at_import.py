"""Test-only bad workload module: it raises when imported."""

raise RuntimeError("broken on purpose")
