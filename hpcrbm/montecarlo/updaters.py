"""Update algorithms (one interface: Metropolis on CPU or GPU, Wolff, Swendsen-Wang) and the
factory that maps sampling.algorithm to them."""
import numpy as np

from ..rng.philox import seed_key
from .ising import TWO32, IsingModel
from .kernels import cluster_cpu


def neighbour_table(shape):
    """int64 (N, z) flat neighbour indices of a periodic lattice; forward neighbours first
    (2D: right, down, left, up; 1D: right, left)."""
    index = np.arange(int(np.prod(shape))).reshape(shape)
    if len(shape) == 1:
        columns = [np.roll(index, -1), np.roll(index, 1)]
    else:
        columns = [np.roll(index, -1, 1), np.roll(index, -1, 0), np.roll(index, 1, 1), np.roll(index, 1, 0)]
    return np.stack([c.reshape(-1) for c in columns], axis=1)


class Updater:
    """Updaters share one interface: ``prepare(T, H)`` gives the per-point parameters (computed
    on the host, identical on every device); ``sweep(spins, params, tuning, ...)`` advances
    all replicas of one point; ``tuning`` is a small int64 array per point that the updater
    may set while ``thermalizing`` and that checkpoints carry (Wolff's clusters per sweep).
    ``sweep_points`` advances every local point (one batch on the GPU).
    """

    n_tuning = 1

    def sweep_points(self, spins, params, tunings, seed, points, sweep_start, n_sweeps, thermalizing=False):
        """``spins``, ``params``, ``tunings``: one entry per local point; ``points``: global indices."""
        for s, p, tuning, point in zip(spins, params, tunings, points):
            self.sweep(s, p, tuning, seed, point, sweep_start, n_sweeps, thermalizing)

    def host_changed(self):
        """The caller modified the host spins between sweeps (replica exchange)."""


class Metropolis(Updater):
    """Checkerboard Metropolis: the model's own kernel and threshold table."""

    def __init__(self, model):
        self.model = model

    def prepare(self, temperature, field):
        return self.model.thresholds(temperature, field)

    def sweep(self, spins, params, tuning, seed, point, sweep_start, n_sweeps, thermalizing=False):
        self.model.sweep(spins, params, seed, point, sweep_start, n_sweeps)


class GpuMetropolis(Metropolis):
    """Checkerboard Metropolis on the GPU (CUDA twins of the CPU kernels, bit-identical).

    ``sweep_points`` keeps the chains of all local points on the device as one batch between
    calls and copies them to the host after each call (they are measured and written there);
    they go back up only after :meth:`host_changed` (a replica exchange) or when other arrays
    are passed. ``runner``: what launches the kernels (backend/cuda.py; default CupyRunner).
    """

    def __init__(self, model, runner=None):
        super().__init__(model)
        self.runner = runner
        self._device = None  # the batch on the device, valid while _host holds the same arrays unchanged
        self._host = ()
        self.uploads = 0

    def sweep(self, spins, params, tuning, seed, point, sweep_start, n_sweeps, thermalizing=False):
        from .kernels.gpu import metropolis_gpu
        metropolis_gpu(self.model, spins, params[None], seed, [point], sweep_start, n_sweeps, runner=self.runner)

    def host_changed(self):
        self._device = None

    def sweep_points(self, spins, params, tunings, seed, points, sweep_start, n_sweeps, thermalizing=False):
        from ..backend.cuda import CupyRunner
        from .kernels.gpu import metropolis_gpu
        if not spins:
            return
        runner = self.runner or CupyRunner()
        xp = runner.xp
        if self._device is None or len(spins) != len(self._host) or any(a is not b for a, b in zip(spins, self._host)):
            batch = np.stack(spins)
            self._device = xp.array(batch.reshape((-1,) + batch.shape[2:]))
            self._host = tuple(spins)
            self.uploads += 1
        metropolis_gpu(self.model, self._device, np.stack(params), seed, list(points), sweep_start, n_sweeps,
                       runner=runner)
        host = xp.asnumpy(self._device) if xp is not np else self._device
        per_point = len(host) // len(spins)
        for li, s in enumerate(spins):
            s[...] = host[li * per_point:(li + 1) * per_point].reshape(s.shape)


class ClusterUpdate(Updater):
    """Wolff or Swendsen-Wang at zero field, for Ising and Potts models."""

    def __init__(self, model, algorithm):
        self.model = model
        self.kernel = cluster_cpu.wolff if algorithm == "wolff" else cluster_cpu.swendsen_wang
        self.neighbours = neighbour_table(model.lattice_shape)
        self.ising = isinstance(model, IsingModel)

    def prepare(self, temperature, field):
        """uint64 bond-activation threshold floor(2**32 p_add)."""
        coupling = 2.0 * self.model.J if self.ising else self.model.J
        p_add = -np.expm1(-coupling / temperature)
        return np.uint64(min(np.floor(p_add * TWO32), TWO32))

    def sweep(self, spins, params, tuning, seed, point, sweep_start, n_sweeps, thermalizing=False):
        q = 2 if self.ising else self.model.q
        flat = spins.reshape(spins.shape[0], -1)
        args = (flat, self.neighbours, params, q, self.ising, *seed_key(seed), point,
                sweep_start, n_sweeps)
        if self.kernel is cluster_cpu.swendsen_wang:
            self.kernel(*args)
            return
        if thermalizing or tuning[0] == 0:
            clusters, flipped = self.kernel(*args, 0)
            tuning[0] = max(1, int(round(self.model.n_sites * clusters / flipped)))
        else:
            self.kernel(*args, int(tuning[0]))


def make_updater(algorithm, model, backend=None):
    """The update algorithm for ``model``; Metropolis runs on the GPU when ``backend`` is one
    (cluster updates are CPU-only)."""
    if algorithm == "metropolis":
        if backend is not None and backend.name == "gpu":
            return GpuMetropolis(model, backend.runner)
        return Metropolis(model)
    return ClusterUpdate(model, algorithm)
