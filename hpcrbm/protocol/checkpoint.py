"""The one checkpoint helper every stage uses, and the stop signals it honours.

A stage's checkpoint is ``checkpoints/NAME`` in the run directory, an HDF5 file whose attribute
``inputs`` is the stage's fingerprint (hpcrbm/protocol/stage.py) plus what identifies the work it
holds; it is resumed only by the same inputs, saved when :class:`CheckpointTimer` says so (the
same decision on every rank: ``run.checkpoint_interval`` seconds on rank 0's clock, or a stop
signal on any rank), always through a temporary file renamed into place, and removed once the
stage's file is complete.
"""
import signal
import time
from pathlib import Path

import h5py
import numpy as np

from ..errors import Stopped
from ..io.hdf5 import ParallelFile, replaced_on_success
from .stop import _stop_requests

STOP_TAG = 29999  # a rank's message to every other: "I stop" (announce_stop)
_announcements = []  # this rank's stop messages (requests kept until the process ends)


def _world():
    """MPI_COMM_WORLD, or None without mpi4py or with one process."""
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD if MPI.Is_initialized() and MPI.COMM_WORLD.Get_size() > 1 else None


def stop_requested():
    """Whether this process got a stop signal, or another rank of the run announced that it stops
    (so ranks that work alone, e.g. on whole RBMs, stop together whichever got the signal)."""
    if not _stop_requests:
        world = _world()
        if world is not None:
            from mpi4py import MPI
            if world.Iprobe(source=MPI.ANY_SOURCE, tag=STOP_TAG):
                _stop_requests.append(STOP_TAG)
    return bool(_stop_requests)


def stop_reason():
    first = _stop_requests[0] if _stop_requests else None
    if first == STOP_TAG:
        return "a stop on another rank"
    return signal.Signals(first).name if first is not None else "a stop signal"


def announce_stop():
    """Tell every other rank of the run, once, that this one stops (STOP_TAG messages)."""
    world = _world()
    if world is None or _announcements:
        return
    note = np.zeros(1, np.int8)
    _announcements.extend(world.Isend(note, dest=r, tag=STOP_TAG) for r in range(world.Get_size())
                          if r != world.Get_rank())


def wait_for_ranks(comm):
    """The barrier after work that each rank did alone (whole RBMs, whole fields): sleeps while
    waiting, and a stop (a signal here, or one announced by a rank) raises :class:`Stopped` on
    every rank instead of leaving some waiting for ranks that stopped."""
    if not comm.wait_all(give_way=stop_requested):
        announce_stop()
        raise Stopped(stop_reason())


class CheckpointTimer:
    """Says, the same on every rank, when to checkpoint: ``run.checkpoint_interval`` seconds of
    wall time since the last checkpoint (rank 0's clock decides), or a stop signal received on
    any rank. Collective: every rank calls :meth:`checkpoint_if_due` the same number of times."""

    def __init__(self, comm, interval):
        self.comm, self.interval, self.last = comm, interval, time.monotonic()

    def checkpoint_if_due(self, save=None):
        """Call ``save()`` (collective) when a checkpoint is due; then raise :class:`Stopped`
        when the cause was a stop signal. Returns whether it saved."""
        elapsed = self.comm.is_root and time.monotonic() - self.last >= self.interval
        late, stop = self.comm.allreduce_sum(np.array([int(elapsed), int(stop_requested())]))
        if not (late or stop):
            return False
        if save is not None:
            save()
        self.last = time.monotonic()
        if stop:
            announce_stop()  # ranks working alone learn it at their next check
            raise Stopped(stop_reason())
        return True




class Checkpoint:
    """``path``, valid for ``inputs``, kept by the ranks of ``comm``.

    :meth:`read` gives what a reader makes of it when it was made from the same inputs (None
    otherwise); :meth:`write` saves state that every rank of ``comm`` holds alike (written by its
    first rank), :meth:`write_parallel` state that the ranks hold in parts (each writes its own
    through a :class:`ParallelFile`); :meth:`save_if_due` writes when the timer says so and then
    raises :class:`Stopped` after a stop signal.
    """

    def __init__(self, path, inputs, comm, interval, seconds=None):
        self.path, self.inputs, self.comm = Path(path), inputs, comm
        self.timer = CheckpointTimer(comm, interval)
        self.seconds = seconds  # the stage's compute seconds so far (all segments), kept in each write

    def stored_seconds(self):
        """The stage's compute seconds when this checkpoint was written (0: none of these inputs)."""
        return float(self.read(lambda h5: h5.attrs.get("stage_seconds", 0.0)) or 0.0)

    def _stamp(self):
        return {"inputs": self.inputs} | ({"stage_seconds": self.seconds()} if self.seconds else {})

    def read(self, reader):
        """``reader(h5)`` on the checkpoint opened for reading, or None when it is missing,
        unreadable, lacks what the reader needs, or was made from other inputs."""
        try:
            with h5py.File(self.path, "r") as h5:
                return reader(h5) if h5.attrs.get("inputs") == self.inputs else None
        except (OSError, KeyError):
            return None

    def made_from_other_inputs(self):
        """Whether a readable checkpoint of other inputs is there (a stage that must not drop it
        refuses to go on)."""
        try:
            with h5py.File(self.path, "r") as h5:
                return h5.attrs.get("inputs") != self.inputs
        except (OSError, KeyError):
            return False

    def write(self, writer):
        """``writer(h5)`` into a fresh checkpoint on ``comm``'s first rank, then the rename
        (collective on ``comm``)."""
        if self.comm.is_root:
            with replaced_on_success(self.path, ".tmp") as tmp, h5py.File(tmp, "w") as h5:
                writer(h5)
                h5.attrs.update(self._stamp())
        self.comm.barrier()

    def write_parallel(self, writer, file_class=ParallelFile):
        """``writer(f)`` on a ``file_class`` open on every rank of ``comm``, then the rename
        (collective)."""
        f = file_class(self.path.with_name(self.path.name + ".tmp"), self.comm, "w")
        writer(f)
        stamp = self._stamp()
        if "stage_seconds" in stamp:  # rank 0's clock: the same attributes on every rank
            stamp["stage_seconds"] = self.comm.bcast_number(stamp["stage_seconds"])
        f.set_attrs(stamp)
        f.commit(self.path)

    def save_if_due(self, save):
        """Call ``save()`` (collective) when a checkpoint is due (:class:`CheckpointTimer`)."""
        return self.timer.checkpoint_if_due(save)

    def remove(self):
        """Delete the checkpoint (its first rank; no collective)."""
        if self.comm.is_root:
            self.path.unlink(missing_ok=True)
