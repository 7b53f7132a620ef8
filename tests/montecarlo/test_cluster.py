"""Wolff and Swendsen-Wang: exact energies, the Binder cumulant at Tc, no stopping-time bias."""
import numpy as np
import pytest

from hpcrbm.exact import ising2d_critical_temperature, kaufman_observables
from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.single_point import sample_point
from hpcrbm.montecarlo.updaters import ClusterUpdate, neighbour_table
from hpcrbm.stats import block_labels, jackknife, tau_int

Z_MAX = 4.0
BINDER_CRITICAL = 0.6107


@pytest.mark.parametrize("algorithm", ["wolff", "swendsen-wang"])
@pytest.mark.parametrize("L,T", [(8, 1.8), (16, 2.269), (10, 3.0)])
def test_ising_energy_and_specific_heat_match_kaufman(algorithm, L, T):
    e, _ = sample_point(IsingModel(2, L), T, 0.0, 31, L, 64, 200, 300, 1, algorithm=algorithm)
    labels = block_labels(*e.shape)
    u, du = jackknife(lambda a: a, [e], labels)
    c, dc = jackknife(lambda a, b: L * L * (b - a * a) / T**2, [e, e * e], labels)
    u_exact, c_exact = kaufman_observables(T, L)
    assert abs(u - u_exact[0]) / du < Z_MAX, (u, du, u_exact)
    assert abs(c - c_exact[0]) / dc < Z_MAX, (c, dc, c_exact)


@pytest.mark.parametrize("L", [16, 32])
def test_binder_cumulant_at_tc(L):
    _, m = sample_point(IsingModel(2, L), ising2d_critical_temperature(), 0.0, 32, L, 64, 200, 400, 1,
                        algorithm="wolff")
    m = np.abs(m)
    U, dU = jackknife(lambda b, d: 1 - d / (3 * b * b), [m * m, m**4], block_labels(*m.shape))
    assert dU < 3e-3
    assert abs(U - BINDER_CRITICAL) / dU < Z_MAX, (U, dU)


def test_cluster_updates_decorrelate_faster_than_metropolis_at_tc():
    L, T = 32, ising2d_critical_temperature()
    taus = {}
    for algorithm in ("metropolis", "wolff", "swendsen-wang"):
        e, _ = sample_point(IsingModel(2, L), T, 0.0, 33, 0, 16, 500, 1000, 1, algorithm=algorithm)
        taus[algorithm] = tau_int(e)
    assert taus["wolff"] * 5 < taus["metropolis"] and taus["swendsen-wang"] * 3 < taus["metropolis"], taus


def test_wolff_sweep_flips_about_n_spins():
    model = IsingModel(2, 16)
    updater = ClusterUpdate(model, "wolff")
    spins = model.initial_state(1, 0, 4, "random")
    tuning = np.zeros(1, np.int64)
    params = updater.prepare(2.269, 0.0)
    updater.sweep(spins, params, tuning, 1, 0, 0, 50, thermalizing=True)
    assert 1 <= tuning[0] <= 256
    clusters, flipped = updater.kernel(spins.reshape(4, -1), updater.neighbours, params, 2, True, 1, 0, 0, 50, 20,
                                       int(tuning[0]))
    assert clusters == 4 * 20 * tuning[0]
    assert 0.3 < flipped / (4 * 20 * 256) < 3


def test_neighbour_table_forward_columns_cover_each_bond_once():
    table = neighbour_table((4, 4))
    pairs = {tuple(sorted((i, int(j)))) for i in range(16) for j in table[i, :2]}
    assert len(pairs) == 32
    ring = neighbour_table((5,))
    assert list(ring[0]) == [1, 4] and list(ring[4]) == [0, 3]
