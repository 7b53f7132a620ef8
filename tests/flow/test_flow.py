import numpy as np
import pytest

from hpcrbm.exact import kaufman_observables
from hpcrbm.flow.flows import flow, probability_observables, spins_from_visible
from hpcrbm.flow.rg import block_spin, talk_fixed_point, talk_recursion
from hpcrbm.flow.thermometers import CurveThermometer
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


@pytest.mark.parametrize("T", [1.0, 2.0, 2.269, 3.0, 6.0])
def test_kaufman_energy_thermometer_reads_back_the_temperature(T):
    thermometer = CurveThermometer.kaufman_energy(10)
    u = kaufman_observables(T, 10)[0][0]
    t, dt, inside = thermometer.read(u, 0.001)
    assert inside and t == pytest.approx(T, rel=2e-3) and dt > 0


def test_thermometer_flags_values_outside_its_range():
    thermometer = CurveThermometer.from_curve([1.0, 2.0, 3.0], [0.9, 0.5, 0.1], increasing=False)
    assert thermometer.read(0.7)[0] == pytest.approx(1.5)
    t, _, inside = thermometer.read(0.95)
    assert t == 1.0 and not inside


def test_block_spin_majority_and_reproducible_ties():
    spins = np.ones((2, 4, 4), np.int8)
    spins[0, 0, 0] = -1
    spins[1, :2, :2] = [[1, -1], [-1, 1]]  # a tied block
    a = block_spin(spins, 2, 5, [10, 11])
    assert a.shape == (2, 2, 2) and (a[0] == 1).all() and (a[1, 1:] == 1).all()
    assert np.array_equal(a, block_spin(spins, 2, 5, [10, 11]))
    three = block_spin(np.ones((1, 6, 6), np.int8), 3, 1, [0])
    assert three.shape == (1, 2, 2) and (three == 1).all()


def test_block_spin_flows_away_from_tc():
    """Majority-rule blocking, read by the exact energy thermometer of the blocked size: below
    Tc the blocked ensemble is colder than the original, above Tc hotter (RG runs away)."""
    model, small = IsingModel(2, 16), IsingModel(2, 8)
    thermometer = CurveThermometer.kaufman_energy(8)
    for T, colder in ((1.9, True), (3.2, False)):
        spins = model.initial_state(4, 0, 200)
        model.sweep(spins, model.thresholds(T, 0.0), 4, 0, 0, 500)
        blocked = block_spin(spins, 2, 4, np.arange(200))
        e, _ = small.measure(blocked, 0.0)
        t, dt, _ = thermometer.read(e.mean(), e.std() / np.sqrt(len(e)))
        assert (t < T - 4 * dt) if colder else (t > T + 4 * dt), (T, t, dt)


def test_talk_recursion_fixed_point():
    k = talk_fixed_point()
    assert k == pytest.approx(talk_recursion(k), abs=1e-12)
    assert 0.50 < k < 0.51
    assert talk_recursion(0.3) < 0.3 and talk_recursion(0.7) > 0.7  # K* is unstable
