"""Cross-architecture price-performance benchmarks of AI-infrastructure CPU workloads."""

from harness.errors import UserError
from harness.workload import Workload

__version__ = "0.1.0"
__all__ = ["UserError", "Workload", "__version__"]
