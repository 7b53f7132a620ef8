"""One owner of the MPI communicator, passed along to everything that communicates.

``Communicator.world()`` wraps MPI_COMM_WORLD when mpi4py is importable (a plain
``hpcrbm simulate`` without mpiexec is then a singleton MPI run), and a serial stand-in
with the same methods otherwise. Nothing in hpcrbm touches COMM_WORLD at import time.
"""
import json
import time

import numpy as np

from ..backend import array_module
from ..errors import InputError, WriteError


def block_range(n_items, size, rank):
    """Balanced contiguous slice [start, stop) of ``n_items`` for ``rank`` of ``size``.

    The first ``n_items % size`` ranks get one item more; ranks beyond ``n_items`` get none.
    """
    base, extra = divmod(n_items, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


ARRIVED_TAG = 30000  # + round % 1000: the messages of wait_all
POLL_SECONDS = 0.05


class Communicator:
    """Thin wrapper over an mpi4py communicator (or none, for one process)."""

    def __init__(self, comm=None):
        self.comm = comm
        self.rank = comm.Get_rank() if comm is not None else 0
        self.size = comm.Get_size() if comm is not None else 1
        self._rounds = 0  # calls of wait_all (every rank makes the same calls)
        self._sent = []  # wait_all's send requests, kept until the process ends
        self._node_sums = {}  # (n, dtype): the NodeSum of node_sum, or None

    def wait_all(self, give_way=lambda: False):
        """A barrier for ranks that worked alone and finish at different times: every rank tells
        every other that it arrived (small point-to-point messages) and polls for theirs, sleeping
        POLL_SECONDS between polls (no core spinning while the others work). Returns True when
        all arrived; False as soon as ``give_way()`` is true while waiting (a stop: the caller
        stops without the others, leaving nothing it would have to cancel)."""
        if self.comm is None or self.size == 1:
            return True
        from mpi4py import MPI
        self._rounds += 1
        tag = ARRIVED_TAG + self._rounds % 1000
        note = np.zeros(1, np.int8)
        self._sent += [self.comm.Isend(note, dest=r, tag=tag) for r in range(self.size) if r != self.rank]
        arrived, status = 0, MPI.Status()
        while arrived < self.size - 1:
            if self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=tag, status=status):
                self.comm.Recv(np.empty(1, np.int8), source=status.Get_source(), tag=tag)
                arrived += 1
            elif give_way():
                return False
            else:
                time.sleep(POLL_SECONDS)
        return True

    @classmethod
    def world(cls):
        return cls._of("COMM_WORLD")

    @classmethod
    def alone(cls):
        """This process by itself (MPI_COMM_SELF), for work that one rank does whole."""
        return cls._of("COMM_SELF")

    @classmethod
    def _of(cls, name):
        try:
            from mpi4py import MPI
        except ImportError:
            return cls(None)
        return cls(getattr(MPI, name))

    @property
    def is_root(self):
        return self.rank == 0

    @property
    def mpi(self):
        """The mpi4py communicator for h5py's mpio driver, or None when serial."""
        return self.comm

    def node(self):
        """(rank among the processes of this node, how many of them share it): the shared-memory
        split of the communicator (collective)."""
        if self.comm is None:
            return 0, 1
        from mpi4py import MPI
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        rank, size = node.Get_rank(), node.Get_size()
        node.Free()
        return rank, size

    def node_sum(self, n, dtype=np.float64):
        """A :class:`NodeSum` of ``n`` values over this communicator's ranks where they all share one
        node (collective; one per size and dtype, kept for the process); None for one rank, without
        MPI, across nodes or without the C library of node_sum.py (where :meth:`allreduce_sum` is
        the way)."""
        if self.comm is None or self.size == 1:
            return None
        key, sums = (n, np.dtype(dtype).str), self._node_sums
        if key not in sums:
            from mpi4py import MPI

            from .node_sum import AVAILABLE, NodeSum
            node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
            # every rank sees a node smaller than the communicator, or some rank has no library
            if not self.all_true(node.Get_size() == self.size and AVAILABLE):
                node.Free()
                sums[key] = None
            else:
                sums[key] = NodeSum(node, n, dtype)
        return sums[key]

    def local_rank(self):
        """Rank among the processes of this node."""
        return self.node()[0]

    def slice(self, n_items):
        """This rank's [start, stop) of ``n_items`` (see :func:`block_range`)."""
        return block_range(n_items, self.size, self.rank)

    def owner(self, item, n_items):
        """The rank whose slice of ``n_items`` holds ``item``."""
        return next(r for r in range(self.size) if item < block_range(n_items, self.size, r)[1])

    def barrier(self):
        if self.comm is not None:
            self.comm.Barrier()

    def bcast_number(self, value, root=0):
        """Broadcast one number from ``root`` (buffer-based: no pickle on the wire)."""
        buf = np.array([value], dtype=np.float64)
        if self.comm is not None:
            self.comm.Bcast(buf, root=root)
        return buf[0]

    def bcast_text(self, text, root=0):
        """Broadcast a str from ``root`` as UTF-8 bytes (buffer-based)."""
        if self.comm is None:
            return text
        data = np.frombuffer(text.encode(), np.uint8) if self.rank == root else None
        n = int(self.bcast_number(len(data) if data is not None else 0, root))
        buf = data.copy() if data is not None else np.empty(n, np.uint8)
        self.comm.Bcast(buf, root=root)
        return buf.tobytes().decode()

    def mine(self, n_tasks):
        """The tasks of :meth:`share` this rank runs (task i on rank i % size)."""
        return range(self.rank, n_tasks, self.size)

    def share(self, tasks, progress=None):
        """Run independent ``tasks`` (callables returning JSON-able values), task i on rank
        i % size, and return every result on every rank, in task order, as read back from JSON
        (so one rank or many see the same values). A task that raises makes every rank raise.
        ``progress``: updated after each of this rank's tasks (protocol/progress.py)."""
        mine = {}
        for i in self.mine(len(tasks)):
            try:
                mine[str(i)] = {"value": tasks[i]()}
            except Exception as exc:  # re-raised on every rank below
                mine[str(i)] = {"error": str(exc), "kind": type(exc).__name__}
            if progress is not None:
                progress.update(1)
        results = {}
        for root in range(self.size):
            results.update(json.loads(self.bcast_text(json.dumps(mine, allow_nan=True) if root == self.rank else "",
                                                      root)))
        errors = [results[str(i)] for i in range(len(tasks)) if "error" in results[str(i)]]
        if errors:  # bad input or a failed write: the first one's line, as its own type; else all of them
            first = errors[0]
            if first["kind"] in ("InputError", "WriteError"):
                raise {"InputError": InputError, "WriteError": WriteError}[first["kind"]](first["error"])
            raise RuntimeError("; ".join(f"{e['kind']}: {e['error']}" for e in errors))
        return [results[str(i)]["value"] for i in range(len(tasks))]

    def all_true(self, flag):
        """Logical AND over ranks: combine per-rank checks so no rank raises alone."""
        return bool(self.allreduce_sum(np.array([0 if flag else 1]))[0] == 0)

    def allreduce_sum(self, array):
        """Elementwise sum over ranks of an array (returns a new one); a CuPy array goes through a
        host buffer and comes back as one (on one rank it stays on the device: a copy)."""
        xp = array_module(array)
        if xp is not np:
            return array.copy() if self.size == 1 else xp.asarray(self.allreduce_sum(array.get()))
        array = np.ascontiguousarray(array)
        if self.comm is None:
            return array.copy()
        out = np.empty_like(array)
        from mpi4py import MPI
        self.comm.Allreduce(array, out, op=MPI.SUM)
        return out

    def allgather_slices(self, local, n_items):
        """Concatenate every rank's slice (rows ``self.slice(n_items)``) into the full array.

        ``local`` has shape (stop - start, *rest) on each rank; returns (n_items, *rest).
        """
        xp = array_module(local)
        if xp is not np:
            return local.copy() if self.size == 1 else xp.asarray(self.allgather_slices(local.get(), n_items))
        local = np.ascontiguousarray(local)
        if self.comm is None:
            return local.copy()
        rest = local.shape[1:]
        row = int(np.prod(rest, dtype=np.int64))
        counts = [(b - a) * row for a, b in (block_range(n_items, self.size, r) for r in range(self.size))]
        out = np.empty((n_items,) + rest, dtype=local.dtype)
        self.comm.Allgatherv(local, [out, counts])
        return out

    def send_array(self, array, dest, tag=0):
        self.comm.Send(np.ascontiguousarray(array), dest=dest, tag=tag)

    def recv_array(self, shape, dtype, source, tag=0):
        out = np.empty(shape, dtype=dtype)
        self.comm.Recv(out, source=source, tag=tag)
        return out

    def abort(self, code=1):
        if self.comm is not None and self.size > 1:
            self.comm.Abort(code)

    def describe(self):
        """MPI library version string, or 'serial'."""
        if self.comm is None:
            return "serial (no mpi4py)"
        from mpi4py import MPI
        return MPI.Get_library_version().replace("\x00", "").strip().splitlines()[0]
