"""Training on real Monte Carlo data: the exact likelihood rises and matches enumeration."""
import numpy as np
import pytest

from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.qstate import QStateModel
from hpcrbm.parallel import Communicator
from hpcrbm.rbm.api import RBM
from hpcrbm.rbm.kernels import int8_products
from hpcrbm.rbm.likelihood import exact_log_partition, mean_log_likelihood
from hpcrbm.rbm.model import RBMParams, encode, free_energy
from hpcrbm.rbm.training import ExactProducts, Trainer, TrainingSettings

from .test_model import all_hidden, all_visible


def mc_configs(model, temperatures, per_t=200, seed=1):
    out = []
    for point, T in enumerate(temperatures):
        spins = model.initial_state(seed, point, per_t)
        model.sweep(spins, model.thresholds(T, 0.0), seed, point, 0, 300)
        out.append(spins)
    return np.concatenate(out)


def test_exact_log_likelihood_rises_and_equals_enumeration():
    data = encode(mc_configs(IsingModel(2, 4), (1.5, 2.27, 3.5), per_t=500), "bernoulli", 2, np.float64)
    settings = TrainingSettings(n_hidden=4, learning_rate=0.05, batch_size=25, dtype="float64", seed=2)
    trainer = Trainer(settings, data, 0, len(data), Communicator(None), 16)
    state = trainer.initial_state()
    history = [trainer.mean_free_energy(state.params) - exact_log_partition(state.params)]
    for _ in range(10):
        trainer.epoch(state)
        history.append(trainer.mean_free_energy(state.params) - exact_log_partition(state.params))
    assert history[-1] > history[0] + 0.5 and history[-1] > history[len(history) // 2]
    p = state.params  # brute force: all 2^16 visible x 2^4 hidden states
    v, h = all_visible(16), all_hidden(4)
    minus_energy = (v @ p.b)[:, None] + (h @ p.c)[None, :] + (v @ p.W.T) @ h.T
    top = minus_energy.max()
    log_z = top + np.log(np.exp(minus_energy - top).sum())
    brute = np.mean(np.log(np.exp((data @ p.b)[:, None] + (h @ p.c)[None, :] + (data @ p.W.T) @ h.T).sum(1))) - log_z
    assert history[-1] == pytest.approx(brute, rel=1e-10)


def test_float32_grids_train_like_float64_within_the_spread_of_training_seeds():
    """The float32 trainer's coarser product grids (2**-s from max |W|, probabilities on 2**-16)
    and float32 sigmoid change no statistic: after a fixed training (PCD-1, Nh = 12, L = 4 Ising
    data at three temperatures, 15 epochs), the exact log-likelihood over training seeds 0..5 has
    the same mean in float32 as in float64, |z| < 3 with the seed-to-seed spread of both."""
    data = mc_configs(IsingModel(2, 4), (1.8, 2.27, 3.0), per_t=400)
    final = {}
    for dtype in ("float32", "float64"):
        v = encode(data, "bernoulli", 2, np.dtype(dtype))
        values = []
        for training_seed in range(6):
            settings = TrainingSettings(n_hidden=12, learning_rate=0.05, batch_size=40, dtype=dtype, seed=4,
                                        training_seed=training_seed)
            trainer = Trainer(settings, v, 0, len(v), Communicator(None), 16)
            state = trainer.initial_state()
            for _ in range(15):
                trainer.epoch(state)
            values.append(trainer.mean_free_energy(state.params) - exact_log_partition(state.params))
        final[dtype] = np.array(values)
    first = encode(data, "bernoulli", 2, np.float64)
    untrained = Trainer(TrainingSettings(n_hidden=12, dtype="float64", seed=4), first, 0, len(first),
                        Communicator(None), 16)
    start = untrained.initial_state().params
    start_ll = untrained.mean_free_energy(start) - exact_log_partition(start)
    a, b = final["float32"], final["float64"]
    z = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert abs(z) < 3, (a, b, z)
    assert a.mean() > start_ll + 1.0 and b.mean() > start_ll + 1.0  # both trained
    assert not np.array_equal(a, b)  # different arithmetic


def independent_sites_log_likelihood(train_states, test_states, q):
    """Best model with independent sites: per-site frequencies (smoothed) of the training set."""
    counts = np.stack([(train_states == a).sum(0) for a in range(q)], axis=-1) + 0.5
    log_p = np.log(counts / counts.sum(-1, keepdims=True))
    n, sites = test_states.shape
    return float(np.mean(log_p[np.arange(sites)[None, :], test_states].sum(1)))


def test_categorical_rbm_beats_independent_sites_on_potts_data():
    model = QStateModel("potts", 2, 4, 3)
    states = mc_configs(model, (0.6, 0.8, 1.0, 1.5), per_t=250, seed=4).reshape(-1, 16).astype(np.int64)
    order = np.random.default_rng(0).permutation(len(states))
    train, test = states[order[:800]], states[order[800:]]
    rbm = RBM(n_hidden=8, visible="categorical", q=3, learning_rate=0.05, batch_size=50, epochs=30, dtype="float64",
              seed=5).fit(train)
    test_v = encode(test, "categorical", 3, np.float64)
    rbm_ll = mean_log_likelihood(rbm.params, test_v, exact_log_partition(rbm.params))
    assert rbm_ll > independent_sites_log_likelihood(train, test, 3) + 2.0
    assert np.allclose(rbm.score_samples(test).mean(), rbm_ll)


def test_api_fit_transform_gibbs():
    X = (np.random.default_rng(1).random((300, 10)) < 0.3).astype(int)
    rbm = RBM(n_hidden=5, epochs=2, batch_size=30, seed=1).fit(X)
    assert rbm.transform(X).shape == (300, 5)
    a, b = rbm.gibbs(X[:20]), rbm.gibbs(X[:20])
    assert set(np.unique(a)) <= {0, 1} and not np.array_equal(a, b)
    assert rbm.components_.shape == (5, 10)
    again = RBM(n_hidden=5, epochs=2, batch_size=30, seed=1).fit(X)
    assert np.array_equal(again.components_, rbm.components_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_products_do_not_depend_on_how_rows_are_split(dtype):
    """The gradient sums of a CD-1 update over any split of the batch rows add up to the same
    bits as over the whole batch, and the sampled states are the same (plain BLAS products are
    not: their rounding depends on the matrix shape); so are per-row free energies."""
    from hpcrbm.rbm.kernels import training_cpu
    rng = np.random.default_rng(3)
    p = RBMParams(rng.normal(0, 0.3, (40, 100)).astype(dtype), rng.normal(0, 0.1, 100).astype(dtype),
                  rng.normal(0, 0.1, 40).astype(dtype))
    v = (rng.random((300, 100)) < 0.5).astype(dtype)

    def update(rows):
        grad, vk = np.empty(40 * 100 + 140), np.empty((len(rows), 100), dtype)
        training_cpu.gradient_sums(v, rows, v[:0], False, rows, 1, p.W, p.b, p.c, 0, 9, 48, 1234, 5, 6, 600,
                                   grad, vk)
        return grad, vk
    total, whole = update(np.arange(300))
    for cut in (1, 37, 100, 299):
        (g1, v1), (g2, v2) = update(np.arange(cut)), update(np.arange(cut, 300))
        assert np.array_equal(g1 + g2, total) and np.array_equal(np.concatenate([v1, v2]), whole)
    exact = ExactProducts(p, np.float32)
    F = exact.free_energy(v)
    assert np.allclose(F, free_energy(np, p.astype(np.float64), v.astype(np.float64)), rtol=1e-9)
    assert np.array_equal(np.concatenate([exact.free_energy(v[:37]), exact.free_energy(v[37:])]), F)


@pytest.mark.parametrize("method,biases,k,dtype,nh,threads", [
    ("pcd", True, 1, "float32", 16, 1), ("cd", False, 1, "float32", 16, 1), ("cd", True, 2, "float32", 16, 1),
    ("pcd", True, 1, "float64", 16, 1), ("pcd", True, 1, "float32", 64, 3), ("cd", True, 1, "float32", 100, 2)])
def test_an_epoch_in_one_compiled_call_has_the_bits_of_update_after_update(method, biases, k, dtype, nh, threads):
    """Trainer.epoch's compiled loop (training_cpu.epoch_updates: one call per epoch on one rank, the
    SGD step in the C update's team) gives the weights, velocities, chains and weight grid of
    Trainer.update called batch by batch on one thread, with momentum and weight decay, on the AMX
    update's shapes (100 x 100 x 16: from INT8_PRODUCTS_FROM products; Nh = 64 and 100 above the C
    update's UPDATE_PARALLEL_WORK, on 3 and 2 OpenMP threads) and in float64."""
    from threadpoolctl import threadpool_limits
    data = encode(mc_configs(IsingModel(2, 10), (2.0, 3.0), per_t=250), "bernoulli", 2, np.dtype(dtype))
    settings = TrainingSettings(n_hidden=nh, method=method, biases=biases, k=k, dtype=dtype, batch_size=100,
                                learning_rate=0.05, momentum=0.9, weight_decay=1e-3, seed=3)
    trainers = [Trainer(settings, data, 0, len(data), Communicator(None), 100) for _ in range(2)]
    assert trainers[0]._compiled_epoch
    trainers[1]._compiled_epoch = False
    states = [trainer.initial_state() for trainer in trainers]
    for trainer, state, team in zip(trainers, states, (threads, 1)):
        with threadpool_limits(team, user_api="openmp"):
            for _ in range(2):
                trainer.epoch(state)
    (a, b) = states
    for x, y in zip((a.params.W, a.params.b, a.params.c, *a.velocity, a.chains),
                    (b.params.W, b.params.b, b.params.c, *b.velocity, b.chains)):
        assert np.array_equal(x, y)
    assert a.weight_grid == b.weight_grid and a.epoch == b.epoch == 2


@pytest.mark.parametrize("compiled,L,nh,batch", [(True, 4, 4, 20), (False, 4, 4, 20), (True, 10, 16, 100)])
def test_weights_too_large_for_exact_float32_products_stop_with_one_line(compiled, L, nh, batch):
    """An update whose weights need a float32 grid coarser than 2**-8 raises the one-line input
    error naming rbm.dtype and the update (exit 2 from the command line) instead of losing
    exactness, before its step: from an epoch's compiled loop (numba, and at 100 x 16 x 100 the C
    epoch) as from update by update."""
    from hpcrbm.errors import InputError
    from hpcrbm.rbm.training import ExactGridError
    data = encode(mc_configs(IsingModel(2, L), (2.0,), per_t=2 * batch), "bernoulli", 2, np.float32)
    trainer = Trainer(TrainingSettings(n_hidden=nh, batch_size=batch), data, 0, len(data), Communicator(None), L * L)
    trainer._compiled_epoch = compiled
    assert trainer.int8_products == (L == 10 and int8_products.AVAILABLE)
    state = trainer.initial_state()
    state.params.W[0, 0] = 2.0**17
    before = state.params.W.copy()
    with pytest.raises(ExactGridError, match="config key rbm.dtype: .* at update 0 .* rbm.dtype = 'float64'") as raised:
        trainer.epoch(state)
    assert isinstance(raised.value, InputError) and "\n" not in str(raised.value)
    assert np.array_equal(state.params.W, before)
