"""Monte Carlo against exact results, by z-score with fixed seeds."""
import pytest

from hpcrbm.exact import kaufman_observables, ring_observables
from hpcrbm.montecarlo.ising import IsingModel
from hpcrbm.montecarlo.single_point import sample_point
from hpcrbm.stats import block_labels, jackknife

Z_MAX = 4.0


def mean_and_error(x):
    return jackknife(lambda a: a, [x], block_labels(*x.shape))


@pytest.mark.parametrize("L,T", [(8, 1.6), (8, 2.269), (8, 3.2), (10, 2.0), (10, 2.5)])
def test_2d_energy_and_specific_heat_match_kaufman(L, T):
    model = IsingModel(2, L)
    e, _ = sample_point(model, T, 0.0, seed=4242, point=int(T * 100) + L, replicas=64, thermalize=2000,
                        rounds=800, interval=4)
    u_exact, c_exact = kaufman_observables(T, L)
    labels = block_labels(*e.shape)
    u, du = jackknife(lambda a: a, [e], labels)
    c, dc = jackknife(lambda a, b: L * L * (b - a * a) / T**2, [e, e * e], labels)
    assert abs(u - u_exact[0]) / du < Z_MAX, (u, du, u_exact)
    assert abs(c - c_exact[0]) / dc < Z_MAX, (c, dc, c_exact)
    assert du < 2e-3  # the test has the power to see a real bias


@pytest.mark.parametrize("N,T,H", [(12, 1.0, 0.25), (12, 2.0, -0.6), (15, 0.8, 0.1), (32, 1.5, 1.0)])
def test_1d_ring_in_field_matches_transfer_matrix(N, T, H):
    model = IsingModel(1, N)
    e, m = sample_point(model, T, H, seed=99, point=N, replicas=64, thermalize=1000, rounds=300, interval=3)
    u_exact, m_exact, _, _ = ring_observables(T, H, N)
    u, du = mean_and_error(e)
    mm, dm = mean_and_error(m)
    assert abs(u - u_exact) / du < Z_MAX, (u, du, u_exact)
    assert abs(mm - m_exact) / dm < Z_MAX, (mm, dm, m_exact)


@pytest.mark.parametrize("start", ["ordered", "random"])
@pytest.mark.parametrize("N,T", [(16, 1.0), (15, 2.0)])
def test_1d_ring_at_zero_field_from_any_start(N, T, start):
    """At H = 0 every Metropolis move of a domain wall leaves the energy unchanged; accepted with
    certainty, the checkerboard order moved walls deterministically and the ring was not ergodic
    (u = -0.823 from ordered and -0.720 from random starts at N = 16, T = 1; exactly -0.769)."""
    e, m = sample_point(IsingModel(1, N), T, 0.0, seed=5, point=N, replicas=64, thermalize=500, rounds=300,
                        interval=3, start=start)
    u_exact = ring_observables(T, 0.0, N)[0]
    u, du = mean_and_error(e)
    assert abs(u - u_exact) / du < Z_MAX, (u, du, u_exact)
    assert du < 3e-3


def test_a_wrong_temperature_is_detected():
    """The same test, fed the exact value at a slightly different T, fails: it has power."""
    L, T = 8, 2.269
    e, _ = sample_point(IsingModel(2, L), T, 0.0, seed=4242, point=1, replicas=64, thermalize=2000,
                        rounds=400, interval=4)
    u, du = mean_and_error(e)
    u_wrong, _ = kaufman_observables(T * 1.02, L)
    assert abs(u - u_wrong[0]) / du > Z_MAX
