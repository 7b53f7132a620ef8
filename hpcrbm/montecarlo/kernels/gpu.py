"""CUDA twins of the CPU Metropolis kernels, loaded through CuPy (RawModule, NVRTC).

The .cu sources beside this file are concatenated into one module (philox.cu first). CuPy is
imported only when a GPU kernel is actually used, so CPU-only machines never import it.
Spins may be CuPy arrays (updated in place, no copies: the fast path) or NumPy arrays (copied
to the device and back around the sweeps).
"""
from pathlib import Path

import numpy as np

from ...rng.streams import Purpose
from .ising_cpu import ring_colour_class

SOURCES = ("philox.cu", "lattice.cu", "ising.cu", "qstate.cu")
THREADS = 256
_module = None


def cuda_source():
    """The whole CUDA module as one source string (also compiled by `nvcc -ptx` in the tests)."""
    here = Path(__file__).parent
    return "\n".join((here / name).read_text() for name in SOURCES)


def module():
    global _module
    if _module is None:
        import cupy
        _module = cupy.RawModule(code=cuda_source(), options=("--std=c++11",))
    return _module


def metropolis_gpu(model, spins, table, seed, point, sweep_start, n_sweeps):
    """Advance all replicas of one point by ``n_sweeps`` sweeps on the current GPU.

    model: IsingModel or QStateModel; spins: int8 (R, *lattice), CuPy (in place) or NumPy;
    table: the model's host threshold table (uint64), copied to the device.
    """
    import cupy
    on_host = isinstance(spins, np.ndarray)
    s = cupy.asarray(spins) if on_host else spins
    thr = cupy.asarray(np.ascontiguousarray(table, dtype=np.uint64).reshape(-1))
    qstate = hasattr(model, "q")
    name = f"{'qstate' if qstate else 'ising'}{model.dim}d_half_sweep"
    kernel = module().get_function(name)
    n_rep, L = s.shape[0], model.L
    per_block = 2 if qstate else 4  # sites per Philox block (two words per q-state site)
    if model.dim == 2:
        colours, sites = 2, [L * (L // 2)] * 2
    else:
        colours = 2 + (L & 1)
        sites = [ring_colour_class(L, colour)[1] for colour in range(colours)]
    k0, k1 = np.uint32(seed & 0xFFFFFFFF), np.uint32(seed >> 32)
    c3 = np.uint32(point * 256 + int(Purpose.METROPOLIS))
    for sweep in range(sweep_start, sweep_start + n_sweeps):
        for colour in range(colours):
            threads = n_rep * ((sites[colour] + per_block - 1) // per_block)
            grid = ((threads + THREADS - 1) // THREADS,)
            step = np.uint32(sweep * colours + colour)
            args = (s, thr) + ((np.int32(model.q),) if qstate else ()) + (np.int32(L), np.int32(n_rep), k0, k1, c3,
                                                                            step, np.int32(colour))
            kernel(grid, (THREADS,), args)
    if on_host:
        spins[...] = cupy.asnumpy(s)
    return spins
