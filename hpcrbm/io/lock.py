"""One writer per run directory: ``RUN_DIR/hpcrbm.lock``, held for a run's life.

Rank 0 opens the file and takes an exclusive POSIX record lock (``fcntl.lockf``) on it, then
writes who holds it (pid, host, start time, command). The kernel (or the NFS lock manager)
drops the lock when the process ends in any way, SIGKILL included, so a lock file left behind
by a killed run is stale: the next run takes the lock and overwrites the holder. A second run
while the first is alive cannot take it and stops with exit 2, naming the holder. The file is
removed on a normal exit. Record locks work on local disks, NFSv4 and Lustre (mounted with
``flock`` or ``localflock``).
"""
import contextlib
import fcntl
import os
import socket
import sys
from pathlib import Path

from ..errors import InputError
from .provenance import now

LOCK_NAME = "hpcrbm.lock"
_held = {}  # resolved run directory -> [file descriptor, depth]: the lock is re-entrant in one process


def _acquire(path):
    """The descriptor of ``path`` locked by this process, or (None, holder text) when another
    live process holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)  # never through a link
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 4096).decode(errors="replace").strip()
            os.close(fd)
            return None, holder or "another hpcrbm process"
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file its holder removed while we waited for it: ours
            stale = os.read(fd, 4096).decode(errors="replace").strip()
            os.ftruncate(fd, 0)
            os.pwrite(fd, (f"pid {os.getpid()} on {socket.gethostname()} since {now()}: "
                           f"{' '.join(sys.argv[:1] + sys.argv[1:4])}\n").encode(), 0)
            return fd, stale
        os.close(fd)


@contextlib.contextmanager
def run_lock(run_dir, comm):
    """Hold ``RUN_DIR/hpcrbm.lock`` (collective; rank 0 holds it) for the block; raises
    InputError naming the holder when another live hpcrbm holds it. Creates RUN_DIR."""
    key = Path(run_dir).resolve()
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    error, fd = "", None
    created = [d for d in (key, *key.parents) if not d.exists()]  # deepest first
    if comm.is_root:
        try:
            key.mkdir(parents=True, exist_ok=True)
            if (key / LOCK_NAME).is_symlink():
                raise InputError(f"{key / LOCK_NAME}: a symbolic link; remove it (hpcrbm writes its lock only "
                                 "into a file of its own)")
            fd, holder = _acquire(key / LOCK_NAME)
            if fd is None:
                error = f"{run_dir}: in use by {holder}; wait for it to end or stop it (one writer per run)"
            elif holder:
                from ..log import get_logger
                get_logger().debug("%s: took over the stale lock of a run that ended without releasing it (%s)",
                                   key / LOCK_NAME, holder)
        except InputError as exc:
            error = str(exc)
        except OSError as exc:
            error = f"run.out: cannot create the run directory {run_dir} or its lock ({exc.strerror})"
    error = comm.bcast_text(error)
    if error:
        raise InputError(error)
    _held[key] = [fd, 1]
    try:
        yield
    finally:
        del _held[key]
        if fd is not None:
            with contextlib.suppress(OSError):
                os.remove(key / LOCK_NAME)
                for folder in created:  # the folders this run made and left empty (refused input)
                    folder.rmdir()
            os.close(fd)
