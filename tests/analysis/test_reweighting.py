"""The specific-heat maximum from stored samples against the exact one (Kaufman, transfer matrix)."""
import numpy as np
import pytest

from hpcrbm.analysis.reweighting import reweighted_specific_heat, specific_heat_peak
from hpcrbm.config import ModelConfig
from hpcrbm.exact.reference import exact_specific_heat_peak
from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.single_point import sample_point


def energies(L, temperatures, field, rounds=300, replicas=64):
    model = IsingModel(2, L)
    return np.array([sample_point(model, T, field, 7, i, replicas, 300, rounds, 2)[0]
                     for i, T in enumerate(temperatures)])


@pytest.mark.slow
@pytest.mark.parametrize("field", [0.0, 0.3])
def test_reweighted_maximum_agrees_with_the_exact_one(field):
    L, temperatures = 6, np.array([2.0, 2.3, 2.6, 2.9, 3.2])
    e = energies(L, temperatures, field)
    peak = specific_heat_peak(temperatures, e, L * L)
    exact = exact_specific_heat_peak(ModelConfig(L=L), field, 1.0, 4.0)
    assert 0 < peak["err"] < 0.1 and not peak["at_edge"]
    assert abs(peak["T"] - exact) < 4 * peak["err"] + 0.005, (peak, exact)


def test_reweighting_reproduces_each_run_at_its_own_temperature():
    temperatures = np.array([2.2, 2.5])
    e = energies(6, temperatures, 0.0, rounds=200)
    hist = [36 * x.ravel() for x in e]
    c = reweighted_specific_heat(hist, 1 / temperatures, temperatures, 36)
    direct = 36 * e.reshape(2, -1).var(axis=1) / temperatures**2
    assert c == pytest.approx(direct, rel=0.05)  # each run dominates at its own temperature
