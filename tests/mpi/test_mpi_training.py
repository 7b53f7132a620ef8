"""The training's compiled epoch across ranks: run under ``mpiexec -n 2|3 python -m pytest
--with-mpi -m mpi tests/mpi`` (assertions combined over ranks)."""
import numpy as np
import pytest

from hpcrbm.parallel import Communicator
from hpcrbm.rbm.throughput import ising_training_data
from hpcrbm.rbm.training import Trainer, TrainingSettings

pytestmark = pytest.mark.mpi


@pytest.mark.parametrize("method,biases", [("cd", False), ("pcd", True)])
def test_the_compiled_epoch_through_the_node_sum_has_the_bits_of_updates_through_the_allreduce(method, biases):
    """On ranks of one node Trainer.epoch runs its updates in one compiled call that sums the
    gradient through shared memory (training_cpu.epoch_updates, parallel/node_sum.c); the same
    training update by update with MPI_Allreduce (the way across nodes) gives the same bits: the
    weights, velocities and chains after two epochs, CD-1 (chains keyed by the data rows' global
    indices) and PCD-1, on the AMX update's shapes (100 x 100 x 64)."""
    comm = Communicator.world()
    data = ising_training_data(10, temperatures=(2.0, 3.0), per_temperature=300)
    lo, hi = comm.slice(len(data))
    settings = TrainingSettings(n_hidden=64, method=method, biases=biases, batch_size=100, learning_rate=0.05,
                                momentum=0.5, seed=2)
    trainers = [Trainer(settings, data[lo:hi], lo, len(data), comm, 100) for _ in range(2)]
    ok = trainers[0]._compiled_epoch and trainers[0]._node_sum is not None
    trainers[1]._compiled_epoch, trainers[1]._node_sum = False, None
    states = [trainer.initial_state() for trainer in trainers]
    for trainer, state in zip(trainers, states):
        for _ in range(2):
            trainer.epoch(state)
    a, b = states
    ok &= all(np.array_equal(x, y) for x, y in zip((a.params.W, a.params.b, a.params.c, *a.velocity, a.chains),
                                                   (b.params.W, b.params.b, b.params.c, *b.velocity, b.chains)))
    ok &= a.weight_grid == b.weight_grid
    assert comm.all_true(ok)
