"""The RBM on a real GPU (skipped without CuPy and a device): the device's random numbers and
exact steps equal the CPU's bit for bit, a GPU training agrees with the CPU's within the spread of
independent trainings, and GPU trainings on 1 and 2 ranks are identical bit for bit."""
import h5py
import numpy as np
import pytest

from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.parallel import Communicator
from hpcrbm.rbm.kernels import training_cpu as kernels_cpu
from hpcrbm.rbm.likelihood import exact_log_partition
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
    W = (rng.normal(size=(7, 13)) * 0.3).astype(dtype)
    Wq, largest = kernels_cpu.quantised_weights(W)
    Wq_d, largest_d = device.quantised_weights(cupy.asarray(W))
    assert np.array_equal(Wq_d.get(), Wq) and largest_d == largest
    sums, bias = np.rint(rng.normal(size=(9, 6)) * 2.0**34), rng.normal(size=6).astype(dtype)
    for kernel in ("scaled_inputs", "sigmoid_inputs"):
        host, dev = np.empty((9, 6), dtype), cupy.empty((9, 6), dtype)
        getattr(kernels_cpu, kernel)(sums, bias, host)
        getattr(device, kernel)(cupy.asarray(sums), cupy.asarray(bias), dev)
        assert np.array_equal(dev.get(), host), kernel
    probs = rng.random((5, 11)).astype(dtype)
    args = (np.arange(5) * 3, 4, 2, 18 + 256 * 64, *seed_key(12))
    host, dev = np.empty_like(probs), cupy.empty(probs.shape, dtype)
    kernels_cpu.sample_bernoulli_rows(probs, *args, host)
    device.sample_bernoulli_rows(cupy.asarray(probs), *args, dev)
    assert np.array_equal(dev.get(), host)
    grad = np.rint(rng.normal(size=24 + 6 + 4) * 2.0**36)
    arrays = [rng.normal(size=n).astype(dtype) for n in (24, 6, 4, 24, 6, 4)]
    on_device = [cupy.asarray(a) for a in arrays]
    kernels_cpu.sgd_step(grad, *arrays, 50, 0.01, 0.9, 1e-3, True)
    device.sgd_step(cupy.asarray(grad), *on_device, 50, 0.01, 0.9, 1e-3, True)
    assert all(np.array_equal(d.get(), a) for d, a in zip(on_device, arrays))


def log_likelihood_curve(kernels, seed, data, epochs=6):
    settings = TrainingSettings(n_hidden=8, learning_rate=0.05, batch_size=25, seed=seed)
    trainer = Trainer(settings, data, 0, len(data), Communicator(None), 16, kernels)
    state = trainer.initial_state()
    curve = []
    for _ in range(epochs):
        trainer.epoch(state)
        curve.append(trainer.mean_free_energy(state.params) - exact_log_partition(state.params))
    return np.array(curve)


def test_gpu_training_agrees_with_the_cpu_within_the_spread_of_seeds(device):
    """Only tanh and exp round differently on the device, so the GPU's exact log-likelihood curve
    (float32, PCD-1, Nh = 8, L = 4 Ising data) stays within five seed-to-seed standard deviations
    (CPU, seeds 1 to 5, the largest over the epochs) of the CPU curve of the same seed at every
    epoch: a bound that even two independent trainings pass with probability 0.997, while the
    two are expected to agree far closer (they part only after a draw falls between two
    probabilities one bit apart). The kernels themselves are compared bit for bit above."""
    data = encode(mc_configs(IsingModel(2, 4), (1.5, 2.27, 3.5), per_t=300), "bernoulli", 2, np.float32)
    cpu = np.array([log_likelihood_curve(kernels_cpu, seed, data) for seed in range(1, 6)])
    gpu_curve = log_likelihood_curve(device, 1, data)
    spread = cpu.std(axis=0, ddof=1).max()
    assert np.all(np.abs(gpu_curve - cpu[0]) <= 5 * spread), (gpu_curve, cpu[0], spread)
    assert gpu_curve[-1] > gpu_curve[0]


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
