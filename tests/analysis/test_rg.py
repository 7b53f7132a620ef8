"""Block-spin renormalisation and the talk's coupling recursion."""
import numpy as np
import pytest

from hpcrbm.analysis.rg import block_spin, talk_fixed_point, talk_recursion
from hpcrbm.config import ModelConfig
from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.thermometers.curve import CurveThermometer


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
    thermometer = CurveThermometer.exact_energy(ModelConfig(L=8))
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
