"""Potts and clock models: kernels bit for bit, exact mappings by z-score, q = 3 Potts at Tc."""
import numpy as np
import pytest

from hpcrbm.exact import kaufman_observables
from hpcrbm.montecarlo.kernels.qstate_cpu import SMALL_L, proposal_constants
from hpcrbm.montecarlo.kernels.qstate_reference import metropolis_q_reference
from hpcrbm.montecarlo.qstate import QStateModel
from hpcrbm.montecarlo.single_point import sample_point
from hpcrbm.stats import block_labels, jackknife

Z_MAX = 4.0


def mean_and_error(x):
    return jackknife(lambda a: a, [x], block_labels(*x.shape))


@pytest.mark.parametrize("kind", ["potts", "clock"])
@pytest.mark.parametrize("dim,L,q", [(2, 2, 2), (2, 4, 3), (2, 6, 4), (2, 10, 7), (1, 7, 3), (1, 8, 5)])
def test_kernel_equals_reference(kind, dim, L, q):
    model = QStateModel(kind, dim, L, q)
    spins = model.initial_state(11, 2, 3, "random")
    table = model.thresholds(1.1, 0.2)
    fast, slow = spins.copy(), spins.copy()
    model.sweep(fast, table, 11, 2, 5, 4)
    metropolis_q_reference(slow, table, q, 11, 2, 5, 4)
    assert np.array_equal(fast, slow)
    assert not np.array_equal(fast, spins) and fast.min() >= 0 and fast.max() < q


@pytest.mark.parametrize("dim,L", [(2, 6), (2, 40), (1, 9)])
def test_kernel_updates_a_strided_view(dim, L):
    model = QStateModel("potts", dim, L, 3)
    spins = model.initial_state(3, 1, 6, "random")
    table = model.thresholds(0.9, 0.0)
    fast, slow = spins.copy(), spins.copy()
    model.sweep(fast[::2], table, 3, 1, 0, 3)
    metropolis_q_reference(slow[::2], table, 3, 3, 1, 0, 3)
    assert np.array_equal(fast, slow) and not np.array_equal(fast, spins)


@pytest.mark.parametrize("q", range(2, 129))
def test_proposal_bytes_are_exactly_uniform(q):
    """The kernels' p // c by a multiplication is exact for every byte, and the bytes below the
    tail give every step delta = 1 .. q - 1 equally often (docs/rng.md)."""
    c, tail, mul = proposal_constants(q)
    p = np.arange(256, dtype=np.int64)
    assert tail == 256 - 256 % (q - 1) and c == tail // (q - 1)
    assert np.array_equal((p * mul) >> 16, p // c)
    assert np.array_equal(np.bincount(p[:tail] // c), np.full(q - 1, c))


@pytest.mark.parametrize("kind,dim,L,q", [("potts", 2, 16, 7), ("clock", 2, 12, 5), ("clock", 1, 101, 6),
                                          ("potts", 2, 16, 4), ("potts", 2, 34, 3), ("clock", 2, 40, 7),
                                          ("potts", 2, 36, 12)])
def test_second_pass_equals_reference(kind, dim, L, q):
    """Enough updates that both parts of the second pass run (acceptance ties, and proposal
    bytes in the tail where q - 1 does not divide 256), still bit for bit; lattices on both
    sides of SMALL_L (class loops, row loops)."""
    model = QStateModel(kind, dim, L, q)
    spins = model.initial_state(5, 7, 3, "random")
    table = model.thresholds(0.9, 0.1)
    fast, slow = spins.copy(), spins.copy()
    model.sweep(fast, table, 5, 7, 0, 6)
    ties, tails = metropolis_q_reference(slow, table, q, 5, 7, 0, 6)
    assert np.array_equal(fast, slow)
    assert ties > 0 and (tails > 0) == (256 % (q - 1) != 0), (ties, tails)


def test_small_lattice_threshold_is_covered():
    assert 16 <= SMALL_L < 34


def test_measure_potts_and_clock():
    potts = QStateModel("potts", 2, 4, 3)
    spins = np.zeros((2, 4, 4), np.int8)
    spins[1, :2] = 1
    e, m = potts.measure(spins, 0.5)
    assert e[0] == pytest.approx(-2 - 0.5)
    # replica 1: two rows of 1s, two of 0s: 8 vertical bonds broken of 32; 8 sites in state 0
    assert e[1] == pytest.approx((-(32 - 8) - 0.5 * 8) / 16)
    assert m[0] == 1.0 and m[1] == pytest.approx((3 * 8 / 16 - 1) / 2)
    clock = QStateModel("clock", 1, 4, 4)
    e, m = clock.measure(np.array([[0, 1, 2, 3]], np.int8), 0.0)
    assert e[0] == pytest.approx(0.0, abs=1e-12) and m[0] == pytest.approx(0.0, abs=1e-12)
    e, m = clock.measure(np.array([[0, 0, 1, 1]], np.int8), 1.0)
    assert e[0] == pytest.approx((-2 - 0 - 2) / 4) and m[0] == pytest.approx(np.sqrt(8) / 4)


@pytest.mark.parametrize("algorithm", ["metropolis", "swendsen-wang", "wolff"])
@pytest.mark.parametrize("T", [0.9, 1.1345, 1.5])
def test_q2_potts_is_ising_at_twice_the_temperature(algorithm, T):
    """u_potts(T) = -1 + u_ising(2T) / 2 on the same L x L torus (Kaufman)."""
    L = 8
    e, _ = sample_point(QStateModel("potts", 2, L, 2), T, 0.0, 21, 3, 64, 1000, 400, 2, algorithm=algorithm)
    u, du = mean_and_error(e)
    exact = -1 + kaufman_observables(2 * T, L)[0][0] / 2
    assert abs(u - exact) / du < Z_MAX, (u, du, exact)


@pytest.mark.parametrize("T", [0.8, 1.1345, 1.6])
def test_q4_clock_is_two_ising_models(T):
    """u_clock(T) = u_ising(2T) for q = 4 (two decoupled Ising models with J / 2)."""
    L = 8
    e, _ = sample_point(QStateModel("clock", 2, L, 4), T, 0.0, 22, 4, 64, 1000, 400, 2)
    u, du = mean_and_error(e)
    exact = kaufman_observables(2 * T, L)[0][0]
    assert abs(u - exact) / du < Z_MAX, (u, du, exact)


def test_q3_potts_energy_at_tc_approaches_exact_value():
    """u_L(Tc) = u_c + A L^(-4/5) ((alpha - 1) / nu = -4/5 for q = 3): the extrapolated u_c
    agrees with -(1 + 1/sqrt 3) and the finite-size deviation shrinks with L."""
    tc = 1 / np.log(1 + np.sqrt(3))
    u_c = -(1 + 1 / np.sqrt(3))
    sizes = np.array([8, 16, 32])
    means, errors = [], []
    for L in sizes:
        e, _ = sample_point(QStateModel("potts", 2, int(L), 3), tc, 0.0, 23, int(L), 64, 300, 400, 1,
                            algorithm="swendsen-wang")
        u, du = mean_and_error(e)
        means.append(u)
        errors.append(du)
    means, errors = np.array(means), np.array(errors)
    deviation = np.abs(means - u_c)
    assert deviation[0] > deviation[1] > deviation[2]
    design = np.stack([np.ones(3), sizes ** -0.8], axis=1) / errors[:, None]
    coef, *_ = np.linalg.lstsq(design, means / errors, rcond=None)
    covariance = np.linalg.inv(design.T @ design)
    assert abs(coef[0] - u_c) / np.sqrt(covariance[0, 0]) < Z_MAX, (coef, covariance)
