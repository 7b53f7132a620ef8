"""Exceptions that map to the command line's exit statuses."""


class InputError(Exception):
    """Bad input (config key or value, file): exit status 2 and one line naming what is wrong."""

