"""CUDA twins of the CPU Metropolis kernels (the .cu sources beside this file), launched through
a runner of the package's CUDA module (backend/cuda.py).

Four launch shapes, all bit-identical to the CPU kernels (docs/gpu.md):

- ``lanes`` (Ising, at most ``LANES_SITES`` sites): groups of 16 lattices interleaved by site
  in shared memory, a thread per Philox block (16 sites) and four lattices, every sweep in one
  launch (batches of small lattices: ising_lanes.cu).
- ``compact`` (2D Ising, L % 32 == 0): colour-compacted planes of down bits, 16 sites x 16 rows
  per thread, four acceptance tests per 32-bit operation, one launch per half-sweep (single huge
  lattices: ising_compact.cu).
- ``shared`` (any model, at most ``SHARED_SITES`` sites): whole lattices in shared memory,
  every sweep in one launch, one update rule per model (``IsingRule``, ``QStateRule``).
- ``global``: everything else; natural layout, one launch per half-sweep.
"""
import numpy as np

from ...backend.cuda import CupyRunner, tuning
from ...rng.philox import philox_key
from ...rng.streams import Purpose
from .ising_cpu import ring_colour_class

THREADS = 256
SHARED_BYTES = 48 * 1024  # shared memory per block without opting in
SHARED_SITES = SHARED_BYTES  # one byte per spin
LANES, LANE_INFO = 16, 16 * 24  # lattices per group; bytes of per-lattice data per group (LaneInfo)
LANES_SITES = (SHARED_BYTES - LANE_INFO) // (2 * LANES)  # one group of cells and the site table (16 bytes a site)
MAX_GRID_Y = 65535
PATHS = ("auto", "lanes", "compact", "shared", "global")


def blocks(threads):
    """1D grid of THREADS-thread blocks covering ``threads`` threads."""
    return (-(-threads // THREADS),)


def choose_path(model):
    """The launch shape for ``model`` (see the module docstring)."""
    ising = not hasattr(model, "q")
    if ising and model.n_sites <= LANES_SITES:
        return "lanes"
    if ising and model.dim == 2 and model.L % 32 == 0:
        return "compact"
    return "shared" if model.n_sites <= SHARED_SITES else "global"


def to_planes(xp, spins, runner=None):
    """int8 +-1 (B, L, L) -> colour-compacted (B, 2, L, L // 2) of down bits (1 where s = -1):
    planes[:, c, y, i] = (1 - s[:, y, (y + c) % 2 + 2 i]) / 2.

    With a ``runner`` (L % 32 == 0) the conversion is one kernel launch, else array slicing."""
    n, L, _ = spins.shape
    planes = xp.empty((n, 2, L, L // 2), dtype=spins.dtype)
    if runner is not None:
        _planes_kernel(runner, spins, planes, 1)
        return planes
    down = (spins < 0).astype(np.int8)
    for colour in (0, 1):
        planes[:, colour, 0::2] = down[:, 0::2, colour::2]
        planes[:, colour, 1::2] = down[:, 1::2, 1 - colour::2]
    return planes


def from_planes(planes, spins, runner=None):
    """Inverse of :func:`to_planes`, written into ``spins`` (B, L, L)."""
    if runner is not None:
        _planes_kernel(runner, spins, planes, 0)
        return spins
    for colour in (0, 1):
        spins[:, 0::2, colour::2] = 1 - 2 * planes[:, colour, 0::2]
        spins[:, 1::2, 1 - colour::2] = 1 - 2 * planes[:, colour, 1::2]
    return spins


def _planes_kernel(runner, spins, planes, to_planes):
    n, L, _ = spins.shape
    runner.launch("ising2d_planes", blocks(n * L * (L // 32)), THREADS,
                  (spins, planes, np.int32(L), np.int32(n), np.int32(to_planes)))


def _class_sizes(model):
    if model.dim == 2:
        return [model.L * (model.L // 2)] * 2
    return [ring_colour_class(model.L, colour)[1] for colour in range(2 + (model.L & 1))]


def metropolis_gpu(model, spins, tables, seed, points, sweep_start, n_sweeps, path="auto", runner=None):
    """Advance a batch of lattices by ``n_sweeps`` sweeps on the current GPU (in place).

    spins: int8 (n_points * R, *lattice), point-major (lattice b is replica b % R of local point
    b // R), a device array (updated in place, no copies) or NumPy (copied to the device and
    back); tables: uint64 (n_points, table size), the model's host threshold tables; points:
    global grid index of each local point; path: one of PATHS ("auto" = :func:`choose_path`);
    runner: what launches the kernels (default :class:`CupyRunner`).
    """
    runner = runner or CupyRunner()
    xp = runner.xp
    on_host = isinstance(spins, np.ndarray) and xp is not np
    s = xp.asarray(spins)
    tables = np.asarray(tables, dtype=np.uint64).reshape(len(points), -1)
    n_lattices = s.shape[0]
    replicas = n_lattices // len(points)
    assert replicas * len(points) == n_lattices and s.dtype == np.int8 and s.flags.c_contiguous
    qstate = hasattr(model, "q")
    kind = "qstate" if qstate else "ising"
    per_block = 8 if qstate else 16  # sites per Philox block (two bytes per q-state site, a byte per Ising site)
    path = choose_path(model) if path == "auto" else path
    batch = (xp.asarray(tables), xp.asarray(np.asarray(points, dtype=np.int32)), np.int32(tables.shape[1]),
             np.int32(replicas), np.int32(n_lattices), philox_key(seed),
             np.uint32(int(Purpose.METROPOLIS)), np.uint32(int(Purpose.METROPOLIS_TIE)))
    q = (np.int32(model.q),) if qstate else ()
    sizes = _class_sizes(model)
    colours = len(sizes)
    dims = (np.int32(model.dim), np.int32(model.L))
    if path == "lanes":
        assert not qstate and model.n_sites <= LANES_SITES, f"lanes path: Ising, at most {LANES_SITES} sites"
        per_group = min(1024, 4 * -(-max(sizes) // per_block))  # four threads (lattice quarters) per block
        table = LANES * model.n_sites  # the site table: 16 bytes a site
        groups = max(1, min(THREADS // per_group, (SHARED_BYTES - table) // (LANES * model.n_sites + LANE_INFO)))
        runner.launch("ising_lanes_shared", (-(-n_lattices // (groups * LANES)),), groups * per_group,
                      (s,) + batch + dims + (np.int32(per_group), np.uint32(sweep_start), np.int32(n_sweeps)),
                      shared_mem=table + groups * (LANES * model.n_sites + LANE_INFO))
    elif path == "shared":
        threads_per_lattice = min(1024, -(-max(sizes) // per_block))
        per_lattice = max(1, min(THREADS // threads_per_lattice, SHARED_SITES // model.n_sites))
        runner.launch(f"{kind}_sweeps_shared", (-(-n_lattices // per_lattice),), per_lattice * threads_per_lattice,
                      (s,) + batch + dims + q + (np.int32(threads_per_lattice), np.uint32(sweep_start),
                                                 np.int32(n_sweeps)),
                      shared_mem=per_lattice * model.n_sites)
    elif path == "compact":
        assert not qstate and model.dim == 2 and model.L % 32 == 0, "compact path: 2D Ising, L % 32 == 0"
        planes = to_planes(xp, s, runner)
        grid = blocks((model.L // 32) * (model.L // tuning()["COMPACT_ROWS"])) + (min(n_lattices, MAX_GRID_Y),)
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(2):
                runner.launch("ising2d_compact_half_sweep", grid, THREADS,
                              (planes,) + batch + (np.int32(model.L), np.uint32(2 * sweep + colour), np.int32(colour)))
        from_planes(planes, s, runner)
    else:
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(colours):
                runner.launch(f"{kind}_half_sweep", blocks(n_lattices * -(-sizes[colour] // per_block)), THREADS,
                              (s,) + batch + dims + q + (np.uint32(sweep * colours + colour), np.int32(colour)))
    if on_host:
        spins[...] = xp.asnumpy(s)
    return spins
