"""The sum over ranks of one array for ranks that share one node (:class:`NodeSum`), through an
MPI shared-memory window and the C barrier of parallel/node_sum.c: no MPI call per sum, and
callable from numba's kernels (the training's compiled epoch, rbm/kernels/training_cpu.py:
epoch_updates) through :data:`arrive` and :data:`add`.

For sums exact in any order (integer-valued floats, as the training's gradient sums), whose bits
are then those of an allreduce. :data:`AVAILABLE`: the C library is built (a C compiler); without
it Communicator.node_sum gives None and callers use the allreduce."""
import ctypes
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np
from numba import types

from ..backend import native

LINE = 64  # bytes before a rank's slots: its arrival count, alone in its cache line

_SIGNATURES = {  # symbol: ctypes arguments (no result)
    "hpcrbm_node_arrive": (ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_int64, ctypes.c_int32,
                           ctypes.c_int64),
    "hpcrbm_node_add": (ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64, ctypes.c_int32, ctypes.c_int64,
                        ctypes.c_void_p),
}


def _load():
    """(the library as a ctypes.CDLL or None, the stubs kept alive where it cannot be built: numba's
    kernels that name the symbols still compile, and never call them)."""
    path = native.built_library("node_sum", [Path(__file__).with_name("node_sum.c")], ["-O2", "-march=native"])
    if path is not None:
        library = native.load(path)
        for name, arguments in _SIGNATURES.items():
            getattr(library, name).argtypes, getattr(library, name).restype = arguments, None
        return library, []
    stubs = [ctypes.CFUNCTYPE(None, *arguments)(lambda *args: None) for arguments in _SIGNATURES.values()]
    for name, stub in zip(_SIGNATURES, stubs):
        llvm.add_symbol(name, ctypes.cast(stub, ctypes.c_void_p).value)
    return None, stubs


_library, _stubs = _load()
AVAILABLE = _library is not None
# numba's view of the two functions: arrive(bases, ranks, rank, n, single, call), add(bases, ranks, n, single,
# call, out)
arrive = types.ExternalFunction("hpcrbm_node_arrive", types.void(types.uintp, types.int32, types.int32, types.int64,
                                                                 types.int32, types.int64))
add = types.ExternalFunction("hpcrbm_node_add", types.void(types.uintp, types.int32, types.int64, types.int32,
                                                           types.int64, types.uintp))


class NodeSum:
    """The sum over the ranks of ``node`` (two or more, on one node) of ``n`` values of ``dtype``:
    each rank writes its part into :attr:`part` (this call's slot) and :meth:`total` adds every
    rank's, in rank order, after the C barrier (parallel/node_sum.c: two alternating slots per
    rank, so a rank never overwrites a slot another still reads). On 2 ranks of this VM 10.7 us
    for 6564 float64 values with an MPI barrier, against 19 us for MPI_Allreduce (docs/rbm.md).

    ``bases`` (int64 addresses of every rank's region), ``slots`` (this rank's (2, n)), ``calls``
    (sums so far, the same on every rank) and ``out`` are what a compiled loop needs to sum without
    Python (then :meth:`advance`)."""

    def __init__(self, node, n, dtype):
        from mpi4py import MPI
        self.dtype, self.n, self.ranks, self.rank = np.dtype(dtype), n, node.Get_size(), node.Get_rank()
        region = LINE + -(-2 * n * self.dtype.itemsize // LINE) * LINE  # whole lines: no line shared by two ranks
        self._node, self._window = node, MPI.Win.Allocate_shared(region, 1, comm=node)
        regions = [np.frombuffer(self._window.Shared_query(r)[0], np.uint8, region) for r in range(self.ranks)]
        self.bases = np.array([r.ctypes.data for r in regions], np.int64)
        mine = regions[self.rank]
        mine[:LINE] = 0  # this rank's arrival count, then the barrier: every count 0 before any sum
        node.Barrier()
        self.slots = mine[LINE:LINE + 2 * n * self.dtype.itemsize].view(self.dtype).reshape(2, n)
        self.calls = 0
        self.out = np.empty(n, self.dtype)  # the sum of the last call

    @property
    def part(self):
        """This rank's slot of the present call, (n,): written in full before :meth:`total`."""
        return self.slots[self.calls & 1]

    def _arrive(self):
        _library.hpcrbm_node_arrive(self.bases.ctypes.data, self.ranks, self.rank, self.n,
                                    int(self.dtype.itemsize == 4), self.calls)

    def total(self):
        """Every rank's part summed (collective; a buffer that the next call overwrites)."""
        self._arrive()
        _library.hpcrbm_node_add(self.bases.ctypes.data, self.ranks, self.n, int(self.dtype.itemsize == 4),
                                 self.calls, self.out.ctypes.data)
        self.calls += 1
        return self.out

    def advance(self, calls):
        """Count ``calls`` sums made by a compiled loop through :data:`arrive` and :data:`add`."""
        self.calls += calls
