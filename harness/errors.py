"""The one error type users see: a bad value, named, caught once in the CLI; and exit statuses."""

EXIT_USER_ERROR = 2  # bad input: one line naming the bad value
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT): finished work kept, resumable
EXIT_TERMINATED = 143  # SIGTERM (128 + SIGTERM): the same, from timeout, CI cancellation, kill
EXIT_HANGUP = 129  # SIGHUP (128 + SIGHUP): the same, when the terminal or ssh session closes


class UserError(Exception):
    """Bad input from the user (a value, a file, a path); the message names the bad value."""
