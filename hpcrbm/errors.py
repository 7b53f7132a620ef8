"""Exceptions that map to the command line's exit statuses."""

EXIT_STOPPED = 75  # EX_TEMPFAIL: stopped on request, checkpoint written; the same command resumes


class InputError(Exception):
    """Bad input (config key or value, file): exit status 2 and one line naming what is wrong."""


class Stopped(Exception):
    """A stop signal (SIGTERM, SIGUSR1) arrived: the stage wrote its checkpoint where it keeps one
    and the command ends with EXIT_STOPPED; running it again resumes."""
