"""Running a suite.

The command, the session and its manifest, the worker runner, the plan, and SSH fleets.
"""
