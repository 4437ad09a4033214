"""Judging results: comparisons, significance, history and change points, crosschecks."""
