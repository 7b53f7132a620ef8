import numpy as np

from hpcrbm.flow.flows import flow, probability_observables, spins_from_visible
from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.qstate import QStateModel
from hpcrbm.rbm.model import RBMParams, encode


def test_mean_field_flow_of_a_weightless_rbm_is_its_bias_marginal():
    p = RBMParams(np.zeros((3, 4)), np.array([0.0, 1.0, -1.0, 2.0]), np.zeros(3))
    v0 = np.ones((5, 4))
    steps = list(flow(p, v0, 2, "mean-field", 1, np.arange(5)))
    assert np.array_equal(steps[0][2], v0)
    assert np.allclose(steps[1][1], 1 / (1 + np.exp(-p.b)))
    assert set(np.unique(steps[2][2])) <= {0.0, 1.0}


def test_sampled_flow_is_reproducible_and_keyed_by_chain():
    rng = np.random.default_rng(0)
    p = RBMParams(rng.normal(size=(4, 9)), rng.normal(size=9), rng.normal(size=4))
    v0 = (rng.random((6, 9)) < 0.5).astype(float)
    a = [v.copy() for _, _, v in flow(p, v0, 3, "sample", 7, np.arange(6))]
    b = [v.copy() for _, _, v in flow(p, v0[3:], 3, "sample", 7, np.arange(3, 6))]
    assert all(np.array_equal(x[3:], y) for x, y in zip(a, b))  # chain 3..5 do not depend on the others


def test_probability_observables_of_certain_states_equal_spin_observables():
    model = IsingModel(2, 4)
    spins = model.initial_state(3, 0, 5, "random")
    probs = encode(spins, "bernoulli", 2, np.float64)
    e, m = probability_observables(probs, 0, model, (4, 4), 0.3)
    e_ref, m_ref = model.measure(spins, 0.3)
    assert np.allclose(e, e_ref) and np.allclose(m, np.abs(m_ref))
    potts = QStateModel("potts", 2, 4, 3)
    states = potts.initial_state(3, 0, 5, "random")
    e, m = probability_observables(encode(states, "categorical", 3, np.float64), 3, potts, (4, 4), 0.2)
    e_ref, m_ref = potts.measure(states, 0.2)
    assert np.allclose(e, e_ref) and np.allclose(m, m_ref)
    params = RBMParams(np.zeros((2, 16, 3)), np.zeros((16, 3)), np.zeros(2), 3)
    back = spins_from_visible(encode(states, "categorical", 3, np.float64), params, (4, 4), ising=False)
    assert np.array_equal(back, states)
