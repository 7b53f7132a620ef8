"""RBM training through the array kernels (kernels_array.py), the code a GPU runs: with NumPy as
the array module they equal the numba kernels bit for bit, with the uniforms made by the numba
streams or by the CUDA module (through the CPU emulator, the ``runner`` fixture). On a GPU (CuPy)
the same training agrees with the CPU's up to the rounding of tanh and exp (test_gpu_training)."""
import numpy as np
import pytest

from hpcrbm.backend import Backend
from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.qstate import QStateModel
from hpcrbm.parallel import Communicator
from hpcrbm.rbm.kernels import training_cpu as kernels_cpu
from hpcrbm.rbm.kernels.training_array import ArrayKernels
from hpcrbm.rbm.model import encode
from hpcrbm.rbm.training import Trainer, TrainingSettings, training_kernels

from .test_training import mc_configs

CASES = {
    "bernoulli-pcd-float32": (dict(n_hidden=6, batch_size=20, learning_rate=0.05), "ising"),
    "bernoulli-cd2-momentum-decay-float64": (dict(n_hidden=5, method="cd", k=2, batch_size=25, momentum=0.9,
                                                  weight_decay=1e-3, dtype="float64"), "ising"),
    "categorical-pcd-momentum": (dict(n_hidden=4, q=3, batch_size=20, momentum=0.5), "potts"),
    "no-biases": (dict(n_hidden=3, batch_size=10, biases=False), "ising"),
}


def train(kernels, settings, data, epochs=3):
    """(history of the monitors, final state as NumPy arrays) after ``epochs`` epochs."""
    trainer = Trainer(settings, data, 0, len(data), Communicator(None), 16, kernels)
    state = trainer.initial_state()
    history = []
    for _ in range(epochs):
        trainer.epoch(state)
        history.append(trainer.reconstruction_and_pseudo_likelihood(state.params, state.epoch)
                       + (trainer.mean_free_energy(state.params),))
    arrays = [state.params.W, state.params.b, state.params.c, *state.velocity, state.chains]
    return history, [kernels.xp.asnumpy(a) if kernels.xp is not np else a for a in arrays]


def case_data(model):
    if model == "ising":
        return encode(mc_configs(IsingModel(2, 4), (1.5, 2.5, 3.5), per_t=40), "bernoulli", 2, np.float64)
    states = mc_configs(QStateModel("potts", 2, 4, 3), (0.7, 1.2), per_t=50).reshape(-1, 16)
    return encode(states.astype(np.int64), "categorical", 3, np.float64)


@pytest.mark.parametrize("case", CASES)
def test_array_kernels_train_as_the_numba_kernels(case, runner):
    options, model = CASES[case]
    settings = TrainingSettings(seed=3, **options)
    data = case_data(model)
    reference = train(kernels_cpu, settings, data)
    for kernels in (ArrayKernels(), ArrayKernels(runner)):
        history, arrays = train(kernels, settings, data)
        assert history == reference[0]
        assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(arrays, reference[1]))


def test_training_kernels_follow_the_backend(runner):
    assert training_kernels(None) is kernels_cpu
    assert training_kernels(Backend("cpu", np, "cpu")) is kernels_cpu
    device = training_kernels(Backend("gpu", np, "emulated", runner))
    assert isinstance(device, ArrayKernels) and device.runner is runner and device.xp is np
