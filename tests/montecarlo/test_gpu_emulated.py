"""The CUDA kernels' logic on the CPU (tests/cuda_emulator.py, the ``runner`` fixture): every
launch shape of metropolis_gpu, through the same launch code as on a GPU, equals the numba kernels
bit for bit. Runs in CI (g++ only); the device tests in test_gpu_kernels.py are the proof on a GPU."""
import shutil

import h5py
import numpy as np
import pytest

from hpcrbm.backend import Backend, select_backend
from hpcrbm.config import loads
from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.kernels.gpu import from_planes, metropolis_gpu, to_planes
from hpcrbm.montecarlo.qstate import QStateModel
from hpcrbm.montecarlo.updaters import GpuMetropolis, Metropolis
from hpcrbm.parallel import Communicator
from hpcrbm.pipeline import run_stage
from hpcrbm.stages.simulate import STAGE as SIMULATE

from .test_gpu_kernels import batch_on_cpu, simulate_config

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")


CASES = [(IsingModel(2, 10), "lanes"), (IsingModel(2, 10), "shared"), (IsingModel(2, 10), "global"),
         (IsingModel(2, 16), "lanes"), (IsingModel(1, 17), "lanes"), (IsingModel(1, 17), "shared"),
         (IsingModel(1, 17), "global"), (IsingModel(1, 333), "lanes"), (IsingModel(1, 333), "global"),
         (IsingModel(2, 64), "compact"), (IsingModel(2, 96), "compact"),
         (QStateModel("potts", 2, 12, 3), "shared"), (QStateModel("potts", 2, 12, 3), "global"),
         (QStateModel("clock", 1, 9, 6), "shared"), (QStateModel("clock", 1, 9, 6), "global")]


@pytest.mark.parametrize("model,path", CASES, ids=lambda x: x if isinstance(x, str)
                         else f"{getattr(x, 'kind', 'ising')}-{x.dim}d-L{x.L}")
def test_emulated_kernels_equal_cpu(runner, model, path):
    """Three grid points (different T and h) in one batch; 18 lattices of at most 100 sites
    (a group of 16 lattices straddles points in the lanes kernel)."""
    seed, points = 2**35 + 11, [5, 0, 9]
    replicas = 6 if model.n_sites <= 100 else 2
    spins = np.concatenate([model.initial_state(seed, p, replicas, "random") for p in points])
    tables = np.stack([model.thresholds(T, h) for T, h in ((1.3, 0.1), (2.2, 0.0), (4.0, -0.3))])
    cpu = batch_on_cpu(model, spins, tables, seed, points, 2, 3)
    assert not np.array_equal(cpu, spins)
    emulated = spins.copy()
    metropolis_gpu(model, emulated, tables, seed, points, 2, 3, path, runner)
    assert np.array_equal(emulated, cpu)


def test_emulated_planes_kernel(runner):
    spins = IsingModel(2, 64).initial_state(2, 0, 2, "random")
    planes = to_planes(np, spins, runner)
    assert np.array_equal(planes, to_planes(np, spins))
    assert np.array_equal(from_planes(planes, np.zeros_like(spins), runner), spins)


def test_chains_stay_on_the_device_between_calls(runner):
    """GpuMetropolis.sweep_points uploads once, again only after host_changed(), and still equals
    the CPU updater call for call (the host copies are refreshed after every call)."""
    model = IsingModel(2, 10)
    seed, points = 8, [0, 1]
    params = [model.thresholds(2.2, 0.0), model.thresholds(2.5, 0.1)]
    gpu, cpu = GpuMetropolis(model, runner), Metropolis(model)
    a = [model.initial_state(seed, p, 3, "random") for p in points]
    b = [s.copy() for s in a]
    for call in range(4):
        if call == 2:  # a host-side change, as a replica exchange makes
            for spins in (a, b):
                spins[0][1], spins[1][1] = spins[1][1].copy(), spins[0][1].copy()
            gpu.host_changed()
        gpu.sweep_points(a, params, [None] * 2, seed, points, 3 * call, 3)
        cpu.sweep_points(b, params, [None] * 2, seed, points, 3 * call, 3)
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert gpu.uploads == 2


def test_emulated_simulate_with_tempering_writes_the_cpu_samples(runner, tmp_path):
    """The whole Monte Carlo stage with the GPU updater (kernels run by the emulator) and replica
    exchanges between sweeps writes the CPU's samples.h5 configs (the device test's config)."""
    configs = {}
    for name, backend in (("cpu", select_backend("cpu")), ("gpu", Backend("gpu", np, "emulated", runner))):
        cfg = loads(simulate_config("ising", 10, tempering=True), [f"run.out={tmp_path / name}"])
        with h5py.File(run_stage(SIMULATE, cfg, Communicator(None), backend, quiet=True)) as h5:
            configs[name] = h5["configs"][...]
    assert np.array_equal(configs["cpu"], configs["gpu"])
