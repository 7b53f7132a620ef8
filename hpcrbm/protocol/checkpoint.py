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

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)  # what Slurm sends before a time limit
_stop_requests = []  # signal numbers received by this process


def catch_stop_signals():
    """Turn SIGTERM and SIGUSR1 into a stop request, honoured at the next checkpoint check."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda number, frame: _stop_requests.append(number))


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
        late, stop = self.comm.allreduce_sum(np.array([int(elapsed), len(_stop_requests)]))
        if not (late or stop):
            return False
        if save is not None:
            save()
        self.last = time.monotonic()
        if stop:
            raise Stopped(signal.Signals(_stop_requests[0]).name if _stop_requests else "a stop signal")
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
