"""The RBM on a real GPU (skipped without CuPy and a device): the device's random numbers and
exact steps equal the CPU's bit for bit, so do whole trainings, and GPU trainings on 1 and 2
ranks are identical bit for bit."""
import h5py
import numpy as np
import pytest

from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.qstate import QStateModel
from hpcrbm.parallel import Communicator
from hpcrbm.rbm.kernels import training_cpu as kernels_cpu
from hpcrbm.rbm.model import encode
from hpcrbm.rbm.training import Trainer, TrainingSettings
from hpcrbm.rng.philox import seed_key

from ..conftest import run_hpcrbm
from ..montecarlo.test_gpu_kernels import gpu
from ..stages.test_stages import CONFIG
from .test_training import mc_configs

pytestmark = gpu


@pytest.fixture(scope="module")
def device():
    from hpcrbm.backend.cuda import CupyRunner
    from hpcrbm.rbm.kernels.training_array import ArrayKernels
    return ArrayKernels(CupyRunner())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_uniforms_and_exact_steps_equal_the_cpu(device, dtype):
    import cupy

    from hpcrbm.rng.uniform import uniforms
    rng = np.random.default_rng(1)
    ids = np.array([0, 5, 2**32 + 1, 77])
    u = uniforms((4, 37), dtype, 9, ids, 3, 40, 18, offset=8)
    assert np.array_equal(uniforms((4, 37), dtype, 9, ids, 3, 40, 18, offset=8, runner=device.runner).get(), u)
    from .test_kernels import _update_arguments
    for q, persistent in ((0, True), (3, False)):
        args = _update_arguments(np.dtype(dtype), q, persistent, 1)
        units, nh = args[6].shape[1], args[6].shape[0]
        host = np.empty(nh * units + units + nh), np.empty((10, units), dtype)
        dev = cupy.empty(host[0].shape), cupy.empty(host[1].shape, dtype)
        grids = kernels_cpu.gradient_sums(*args, *host)
        on_device = [cupy.asarray(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
        assert device.gradient_sums(*on_device, *dev) == grids
        assert all(np.array_equal(d.get(), h) for d, h in zip(dev, host)), (q, persistent)
    probs = rng.random((5, 11)).astype(dtype)
    args = (np.arange(5) * 3, 4, 2, 18 + 256 * 64, *seed_key(12))
    host, dev = np.empty_like(probs), cupy.empty(probs.shape, dtype)
    kernels_cpu.sample_bernoulli_rows(probs, *args, host)
    device.sample_bernoulli_rows(cupy.asarray(probs), *args, dev)
    assert np.array_equal(dev.get(), host)
    grad = np.rint(rng.normal(size=24 + 6 + 4) * 2.0**36)
    arrays = [rng.normal(size=n).astype(dtype) for n in (24, 6, 4, 24, 6, 4)]
    on_device = [cupy.asarray(a) for a in arrays]
    kernels_cpu.sgd_step(grad, *arrays, 50, 0.01, 0.9, 1e-3, True, 2.0**16)
    device.sgd_step(cupy.asarray(grad), *on_device, 50, 0.01, 0.9, 1e-3, True, 2.0**16)
    assert all(np.array_equal(d.get(), a) for d, a in zip(on_device, arrays))


def trained_weights(kernels, data, q, epochs=4):
    settings = TrainingSettings(n_hidden=8, q=q, learning_rate=0.05, batch_size=25, seed=3, momentum=0.5)
    trainer = Trainer(settings, data, 0, len(data), Communicator(None), data.shape[1] // max(q, 1), kernels)
    state = trainer.initial_state()
    for _ in range(epochs):
        trainer.epoch(state)
    return state.to(np).params


@pytest.mark.parametrize("q", [0, 3])
def test_gpu_training_equals_the_cpu_bit_for_bit(device, q):
    """Every step is portable (exact products, the same Philox streams, the portable sigmoid and
    softmax), so a whole training on the GPU gives the CPU's weights bit for bit (float32, PCD-1
    with momentum, Nh = 8, L = 4 Ising data or 3-state Potts data)."""
    model = QStateModel("potts", 2, 4, 3) if q else IsingModel(2, 4)
    configs = mc_configs(model, (1.0, 1.5, 3.5), per_t=100)
    data = encode(configs.astype(np.int64), "categorical" if q else "bernoulli", q or 2, np.float32)
    cpu, gpu_params = trained_weights(kernels_cpu, data, q), trained_weights(device, data, q)
    assert all(np.array_equal(a, b) for a, b in zip((cpu.W, cpu.b, cpu.c), (gpu_params.W, gpu_params.b, gpu_params.c)))


def test_gpu_runs_are_rank_invariant_and_agree_with_the_cpu(tmp_path, write_config):
    """The whole pipeline with run.backend = "gpu" on 1 and 2 ranks (one device): identical
    samples, RBMs, thermometers and flows, bit for bit; the samples equal the CPU run's and the
    RBM's final log-likelihood agrees with it within 0.05 nats per sample."""
    config = write_config(CONFIG.replace("[run]\n", "[run]\nbackend = 'gpu'\n"))
    runs = {}
    for name, ranks, extra in (("gpu1", None, []), ("gpu2", 2, []), ("cpu", None, ["--set", "run.backend='cpu'"])):
        result = run_hpcrbm(["run", config, "--out", tmp_path / name, "--quiet", *extra], ranks=ranks)
        assert result.returncode == 0, result.stderr
        runs[name] = tmp_path / name
    for file in ("samples.h5", "rbm.h5", "thermometer.h5", "flow.h5"):
        with h5py.File(runs["gpu1"] / file) as a, h5py.File(runs["gpu2"] / file) as b:
            names = []
            a.visititems(lambda n, obj, names=names: names.append(n) if isinstance(obj, h5py.Dataset) else None)
            assert all(np.array_equal(a[n][...], b[n][...], equal_nan=a[n].dtype.kind == "f") for n in names), file
    with h5py.File(runs["gpu1"] / "samples.h5") as a, h5py.File(runs["cpu"] / "samples.h5") as b:
        assert np.array_equal(a["configs"][...], b["configs"][...])
    with h5py.File(runs["gpu1"] / "rbm.h5") as a, h5py.File(runs["cpu"] / "rbm.h5") as b:
        assert a.attrs["backend"] == "gpu" and b.attrs["backend"] == "cpu"
        final = [h["rbm/nh4"].attrs["final_log_likelihood"] for h in (a, b)]
        assert abs(final[0] - final[1]) < 0.05, final
