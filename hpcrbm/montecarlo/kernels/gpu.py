"""CUDA twins of the CPU Metropolis kernels, loaded through CuPy (RawModule, NVRTC).

The .cu sources beside this file are concatenated into one module (philox.cu first). CuPy is
imported only when a GPU kernel is actually used, so CPU-only machines never import it.

Three launch shapes, one update rule per model (``IsingRule``, ``QStateRule``), all
bit-identical to the CPU kernels (docs/gpu.md):

- ``shared``: lattices of at most ``SHARED_SITES`` sites; each thread block holds whole
  lattices in shared memory and runs every sweep in one launch (batches of small lattices).
- ``compact``: 2D Ising with L % 32 == 0; spins on colour-compacted planes, 16 sites per
  thread, one launch per half-sweep (single huge lattices).
- ``global``: everything else; natural layout, one launch per half-sweep.
"""
from pathlib import Path

import numpy as np

from ...rng.streams import Purpose
from .ising_cpu import ring_colour_class

SOURCES = ("philox.cu", "lattice.cu", "ising.cu", "qstate.cu", "sweeps.cu", "ising_compact.cu")
THREADS = 256
SHARED_SITES = 48 * 1024  # bytes of shared memory per block (one byte per spin)
PATHS = ("auto", "shared", "compact", "global")
_module = None


def cuda_source():
    """The whole CUDA module as one source string (also compiled by `nvcc -ptx` in the tests)."""
    here = Path(__file__).parent
    return "\n".join((here / name).read_text() for name in SOURCES)


def module():
    global _module
    if _module is None:
        import cupy
        _module = cupy.RawModule(code=cuda_source(), options=("--std=c++14",))
    return _module


def choose_path(model):
    """The launch shape for ``model`` (see the module docstring)."""
    if model.n_sites <= SHARED_SITES:
        return "shared"
    if not hasattr(model, "q") and model.dim == 2 and model.L % 32 == 0:
        return "compact"
    return "global"


def to_planes(xp, spins):
    """int8 (B, L, L) -> colour-compacted (B, 2, L, L // 2): planes[:, c, y, i] = s[:, y, (y + c) % 2 + 2 i]."""
    n, L, _ = spins.shape
    planes = xp.empty((n, 2, L, L // 2), dtype=spins.dtype)
    for colour in (0, 1):
        planes[:, colour, 0::2] = spins[:, 0::2, colour::2]
        planes[:, colour, 1::2] = spins[:, 1::2, 1 - colour::2]
    return planes


def from_planes(planes, spins):
    """Inverse of :func:`to_planes`, written into ``spins`` (B, L, L)."""
    for colour in (0, 1):
        spins[:, 0::2, colour::2] = planes[:, colour, 0::2]
        spins[:, 1::2, 1 - colour::2] = planes[:, colour, 1::2]
    return spins


def _class_sizes(model):
    if model.dim == 2:
        return [model.L * (model.L // 2)] * 2
    return [ring_colour_class(model.L, colour)[1] for colour in range(2 + (model.L & 1))]


def metropolis_gpu(model, spins, tables, seed, points, sweep_start, n_sweeps, path="auto"):
    """Advance a batch of lattices by ``n_sweeps`` sweeps on the current GPU (in place).

    spins: int8 (n_points * R, *lattice), point-major (lattice b is replica b % R of local point
    b // R), CuPy (updated in place, no copies) or NumPy (copied to the device and back);
    tables: uint64 (n_points, table size), the model's host threshold tables; points: global
    grid index of each local point; path: one of PATHS ("auto" = :func:`choose_path`).
    """
    import cupy
    on_host = isinstance(spins, np.ndarray)
    s = cupy.asarray(spins) if on_host else spins
    tables = np.asarray(tables, dtype=np.uint64).reshape(len(points), -1)
    n_lattices = s.shape[0]
    replicas = n_lattices // len(points)
    assert replicas * len(points) == n_lattices and s.dtype == np.int8
    qstate = hasattr(model, "q")
    kind = "qstate" if qstate else "ising"
    path = choose_path(model) if path == "auto" else path
    batch = (cupy.asarray(tables), cupy.asarray(np.asarray(points, dtype=np.int32)), np.int32(tables.shape[1]),
             np.int32(replicas), np.int32(n_lattices), np.uint32(seed & 0xFFFFFFFF), np.uint32(seed >> 32),
             np.uint32(int(Purpose.METROPOLIS)))
    q = (np.int32(model.q),) if qstate else ()
    sizes = _class_sizes(model)
    colours = len(sizes)
    if path == "shared":
        per_site = 2 if qstate else 4
        threads_per_lattice = min(1024, -(-max(sizes) // per_site))
        per_block = max(1, min(THREADS // threads_per_lattice, SHARED_SITES // model.n_sites))
        kernel = module().get_function(f"{kind}_sweeps_shared")
        kernel((-(-n_lattices // per_block),), (per_block * threads_per_lattice,),
               (s,) + batch + (np.int32(model.dim), np.int32(model.L)) + q
               + (np.int32(threads_per_lattice), np.uint32(sweep_start), np.int32(n_sweeps)),
               shared_mem=per_block * model.n_sites)
    elif path == "compact":
        assert not qstate and model.dim == 2 and model.L % 32 == 0, "compact path: 2D Ising, L % 32 == 0"
        planes = to_planes(cupy, s)
        kernel = module().get_function("ising2d_compact_half_sweep")
        threads = n_lattices * model.L * (model.L // 32)
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(2):
                kernel(((threads + THREADS - 1) // THREADS,), (THREADS,),
                       (planes,) + batch + (np.int32(model.L), np.uint32(2 * sweep + colour), np.int32(colour)))
        from_planes(planes, s)
    else:
        kernel = module().get_function(f"{kind}_half_sweep")
        per_site = 2 if qstate else 4
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(colours):
                threads = n_lattices * (-(-sizes[colour] // per_site))
                kernel(((threads + THREADS - 1) // THREADS,), (THREADS,),
                       (s,) + batch + (np.int32(model.dim), np.int32(model.L)) + q
                       + (np.uint32(sweep * colours + colour), np.int32(colour)))
    if on_host:
        spins[...] = cupy.asnumpy(s)
    return spins
