"""What machine this is.

Environment capture, CPU identification, cloud identity, compile profiles, emulation.
"""
