"""Writing one HDF5 file from many ranks: every stage's output goes through :class:`ParallelFile`.

Two strategies behind one interface:

- ``mpio``: every rank opens the file with h5py's ``mpio`` driver; datasets and attributes
  are created collectively, and each rank writes its own blocks (independent I/O).
- ``root``: where h5py has no MPI support (stock GPU images, laptops), rank 0 alone opens
  the file and writes its blocks, then receives every other rank's blocks over MPI
  (buffer sends, no pickle) and writes them. Same file, same bytes of data.

A file is written under a temporary name and renamed into place by :meth:`ParallelFile.commit`,
so a file under its final name is always complete. Strings are stored as fixed-length ASCII
(``S`` dtypes): parallel HDF5 cannot write variable-length data collectively.
"""
import contextlib
import errno
import functools
import os
import sys
from pathlib import Path

import h5py
import numpy as np

from ..errors import WriteError, write_failure
from ..log import warn_all

_TAG_COUNT, _TAG_HEADER, _TAG_DATA = 71, 72, 73
_HEADER = 8  # (len(index), index padded to 4, start, stop, unused)
_warned = False
_lost_writes = []  # HDF5 write errors that h5py could only print, while freeing objects


def _is_lost_write(kind, value):
    return kind is RuntimeError and "decrement id ref count" in str(value)


def _record_lost_write(kind, value, tb, default=sys.excepthook):
    """h5py reports a write that fails when HDF5 evicts cached data (no space, quota) only by
    printing it from a destructor (through sys.excepthook and sys.unraisablehook, once per
    object: thousands of tracebacks) and carries on; keep the message instead, for
    :func:`check_writes` to raise."""
    if _is_lost_write(kind, value):
        _lost_writes.append(str(value))
    else:
        default(kind, value, tb)


def _record_lost_write_unraisable(unraisable, default=sys.unraisablehook):
    if _is_lost_write(unraisable.exc_type, unraisable.exc_value):
        _lost_writes.append(str(unraisable.exc_value))
    else:
        default(unraisable)


def check_writes():
    """Raise the first HDF5 write failure that h5py could not raise itself (see above)."""
    sys.excepthook, sys.unraisablehook = _record_lost_write, _record_lost_write_unraisable
    if _lost_writes:
        raise RuntimeError(_lost_writes[0])


def why_not_written(path, exc):
    """"FILE: cause" for a failed write of ``path``: HDF5's errno message where it gives one
    (the mpio driver does not), else what the file system says now."""
    found = write_failure(exc)
    if found:
        return found
    folder = Path(path).parent
    if not folder.is_dir():
        cause = "No such file or directory (the run directory vanished)"
    elif (lambda st: st.f_bavail * st.f_frsize)(os.statvfs(folder)) < 2**20:
        cause = "No space left on device"
    elif not os.access(folder, os.W_OK):
        cause = "Permission denied"
    else:
        cause = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    return f"{path}: {cause}"


def _reports_write_errors(method):
    """Turn h5py's errors inside ``method`` into one WriteError naming the file and the cause."""
    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (OSError, RuntimeError) as exc:
            raise WriteError(why_not_written(self.path, exc)) from None
    return wrapped


def mpio_available():
    return bool(h5py.get_config().mpi)


def choose_strategy(comm):
    """'mpio' for several ranks when h5py has MPI, else 'root' (one warning per process).

    The environment variable HPCRBM_WRITER=root forces the fallback (tests, odd filesystems).
    """
    global _warned
    if comm.size == 1 or os.environ.get("HPCRBM_WRITER") == "root":
        return "root"
    if mpio_available():
        return "mpio"
    if not _warned:
        warn_all(comm, "h5py has no MPI support: rank 0 gathers and writes all output (see docs/io.md)")
    _warned = True
    return "root"


class ParallelFile:
    """An HDF5 file written by every rank of ``comm`` together.

    Every method is collective: all ranks call it, in the same order. A block of a dataset is
    (index, start, stop, array): ``dset[index + (slice(start, stop),)]``, or ``dset[index]``
    when start is None; ``index`` is a tuple of at most 4 leading integers.
    """

    @_reports_write_errors
    def __init__(self, path, comm, mode="w"):
        self.path = Path(path)
        self.comm = comm
        self.strategy = choose_strategy(comm)
        self.h5 = None
        check_writes()
        if self.strategy == "mpio":
            self.h5 = h5py.File(self.path, mode, driver="mpio", comm=comm.mpi)
        elif comm.is_root:
            self.h5 = h5py.File(self.path, mode)
        comm.barrier()

    @property
    def writes(self):
        """Whether this rank holds the file open."""
        return self.h5 is not None

    @_reports_write_errors
    def create(self, name, shape, dtype):
        if self.writes:
            self.h5.create_dataset(name, shape=tuple(shape), dtype=dtype)

    @_reports_write_errors
    def set_attrs(self, attrs, node="/"):
        """Attributes with values identical on every rank (groups are created on demand)."""
        if self.writes:
            target = self.h5.require_group(node) if node != "/" else self.h5
            for key, value in sorted(attrs.items()):  # one order on every rank
                target.attrs[key] = value

    @_reports_write_errors
    def write_global(self, name, array):
        """A dataset whose whole value every rank knows: rank 0 writes it."""
        if self.writes and self.comm.is_root:
            self.h5[name][...] = array

    def create_global(self, name, array):
        """Create a dataset of ``array``'s shape and type and write it (identical on every rank)."""
        array = np.asarray(array)
        self.create(name, array.shape, array.dtype)
        self.write_global(name, array)

    @_reports_write_errors
    def write_blocks(self, name, blocks):
        """Write this rank's ``blocks`` of dataset ``name``; every rank may pass any number."""
        if self.strategy == "mpio":
            for block in blocks:
                self._write(name, *block)
            return
        if self.comm.is_root:
            for block in blocks:
                self._write(name, *block)
            dset = self.h5[name]
            for source in range(1, self.comm.size):
                count = int(self.comm.recv_array((1,), np.int64, source, _TAG_COUNT)[0])
                for _ in range(count):
                    header = self.comm.recv_array((_HEADER,), np.int64, source, _TAG_HEADER)
                    n, start, stop = int(header[0]), int(header[5]), int(header[6])
                    index = tuple(int(i) for i in header[1:1 + n])
                    shape = dset.shape[n:] if start < 0 else (stop - start,) + dset.shape[n + 1:]
                    data = self.comm.recv_array(shape, dset.dtype, source, _TAG_DATA)
                    self._write(name, index, None if start < 0 else start, stop, data)
        else:
            self.comm.send_array(np.array([len(blocks)], np.int64), 0, _TAG_COUNT)
            for index, start, stop, array in blocks:
                header = np.full(_HEADER, -1, np.int64)
                header[0] = len(index)
                header[1:1 + len(index)] = index
                if start is not None:
                    header[5:7] = start, stop
                self.comm.send_array(header, 0, _TAG_HEADER)
                self.comm.send_array(np.ascontiguousarray(array), 0, _TAG_DATA)

    def write_rows(self, name, lo, hi, array):
        """Rows [lo, hi) of dataset ``name`` (axis 0) from this rank (each rank its own slice)."""
        self.write_blocks(name, [((), lo, hi, array)] if hi > lo else [])

    def _write(self, name, index, start, stop, array):
        dset = self.h5[name]
        if start is None:
            dset[index] = array
        else:
            dset[index + (slice(start, stop),)] = array

    @_reports_write_errors
    def close(self):
        if self.h5 is not None:
            self.h5.flush()
            self.h5.close()
            self.h5 = None
            check_writes()
        self.comm.barrier()

    @_reports_write_errors
    def commit(self, final_path, checksums=False):
        """Close and atomically rename to ``final_path`` (rank 0), then synchronise;
        ``checksums``: first store the datasets' checksums (io/checksums.py)."""
        self.close()
        if self.comm.is_root:
            if checksums:
                from .checksums import seal
                try:
                    seal(self.path)
                except (OSError, RuntimeError) as exc:
                    raise WriteError(why_not_written(self.path, exc)) from None
            os.replace(self.path, final_path)
        self.comm.barrier()


class GridFile(ParallelFile):
    """A :class:`ParallelFile` whose per-point datasets have leading axes (nT, nH)."""

    def write_points(self, name, items):
        """``items``: (iT, iH, start, stop, array), the block ``dset[iT, iH, start:stop]`` (or
        ``dset[iT, iH]`` when start is None)."""
        self.write_blocks(name, [((iT, iH), start, stop, array) for iT, iH, start, stop, array in items])


@contextlib.contextmanager
def replaced_on_success(final, suffix=".partial"):
    """A temporary path beside ``final`` (``final`` + ``suffix``) to write; renamed over
    ``final`` when the block succeeds, so readers never see a half-written file; removed when
    it fails. A failure because the directory vanished (HDF5 then reports no errno: "can't
    retrieve stat info") is a WriteError "FILE: No such file or directory"."""
    final = Path(final)
    tmp = final.with_name(final.name + suffix)
    check_writes()
    try:
        yield tmp
        check_writes()
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and write_failure(exc) is None and not tmp.parent.is_dir():
            raise WriteError(f"{tmp}: {os.strerror(errno.ENOENT)}") from exc
        raise


def read_points(source, name, points, grid_shape):
    """Read dset[iT, iH] for flat point indices ``points`` (each rank reads its own);
    ``source``: a path or an open h5py.File."""
    if not isinstance(source, h5py.File):
        with h5py.File(source, "r") as h5:
            return read_points(h5, name, points, grid_shape)
    dset = source[name]
    return np.stack([dset[np.unravel_index(p, grid_shape)] for p in points]) if len(points) else \
        np.empty((0,) + dset.shape[2:], dset.dtype)
