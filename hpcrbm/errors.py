"""Exceptions that map to the command line's exit statuses."""
import errno
import re

EXIT_STOPPED = 75  # EX_TEMPFAIL: stopped on request, checkpoint written; the same command resumes


class InputError(Exception):
    """Bad input (config key or value, file): exit status 2 and one line naming what is wrong."""


class WriteError(Exception):
    """A file could not be written (no space, quota, permissions, a vanished directory): exit 1
    with one line "FILE: cause"; what was complete stays complete and the run resumes."""


class Stopped(Exception):
    """A stop signal (SIGTERM, SIGUSR1) arrived: the stage wrote its checkpoint where it keeps one
    and the command ends with EXIT_STOPPED; running it again resumes."""


WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.EIO,
                errno.EFBIG, errno.ESTALE}


def write_failure(exc):
    """"FILE: cause" when ``exc`` is a failure to write a file (no space, quota, permissions,
    read-only or vanished directory), from Python or from HDF5 (h5py reports HDF5's errno and
    file name in its message); else None."""
    if isinstance(exc, WriteError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    text = str(exc)
    number = re.search(r"errno = (\d+)", text)
    if isinstance(exc, (OSError, RuntimeError)) and number and int(number.group(1)) in WRITE_ERRNOS:
        name = re.search(r"(?:file)?name = '([^']*)'", text)
        cause = re.search(r"error message = '([^']*)'", text)
        return f"{name.group(1) if name else 'an HDF5 file'}: {cause.group(1) if cause else text.splitlines()[0]}"
    return None
