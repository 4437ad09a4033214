"""The one error type users see: a bad value, named, caught once in the CLI."""


class UserError(Exception):
    """Bad input from the user (a value, a file, a path); the message names the bad value."""
