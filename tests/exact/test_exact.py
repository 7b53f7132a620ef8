import numpy as np
import pytest

from hpcrbm.exact import (
    ising2d_critical_temperature,
    kaufman_log_partition,
    kaufman_observables,
    onsager_energy,
    onsager_magnetization,
    onsager_specific_heat,
    ring_log_partition,
    ring_observables,
)
from hpcrbm.exact.enumeration import enumerated_observables, ising2d_energies


def test_critical_temperature():
    assert ising2d_critical_temperature() == pytest.approx(2.269185314213022, rel=1e-12)


@pytest.mark.parametrize("T", [0.8, 1.5, 2.0, 2.269185, 2.3, 2.5, 3.5, 8.0])
def test_kaufman_equals_enumeration_at_L4(T):
    energies = ising2d_energies(4)
    u, c = enumerated_observables(energies, 16, T)
    uk, ck = kaufman_observables(T, 4)
    assert uk[0] == pytest.approx(u, rel=1e-9)
    assert ck[0] == pytest.approx(c, rel=1e-6)
    log_z = np.log(np.sum(np.exp(-energies / T)))
    assert kaufman_log_partition(1 / T, 4) == pytest.approx(log_z, rel=1e-12)


@pytest.mark.parametrize("T", [1.5, 2.0, 3.0, 5.0])
def test_kaufman_large_L_approaches_onsager(T):
    u, c = kaufman_observables(T, 256)
    assert u[0] == pytest.approx(onsager_energy(T), abs=1e-6)
    assert c[0] == pytest.approx(onsager_specific_heat(T), rel=1e-4)


def test_finite_size_specific_heat_peak_is_above_tc_at_L10():
    T = np.linspace(2.0, 2.8, 161)
    _, c = kaufman_observables(T, 10)
    t_peak = T[np.argmax(c)]
    assert 2.27 < t_peak < 2.40


def test_onsager_energy_limits_and_critical_value():
    assert onsager_energy(0.2) == pytest.approx(-2.0, abs=1e-9)
    assert onsager_energy(ising2d_critical_temperature()) == pytest.approx(-np.sqrt(2), rel=1e-6)
    assert onsager_energy(1000.0) == pytest.approx(-2 / 1000.0 * 1, rel=1e-2)  # u ~ -2 tanh(K)


def test_yang_magnetization():
    tc = ising2d_critical_temperature()
    assert onsager_magnetization(1.0) == pytest.approx(0.99927, abs=1e-5)
    assert onsager_magnetization(tc + 0.1) == 0.0
    t = tc * (1 - 1e-6)
    assert onsager_magnetization(t) == pytest.approx(1.2224 * (1e-6) ** 0.125, rel=1e-3)


def test_ring_partition_equals_enumeration():
    N, T, H, J = 7, 1.3, 0.4, 1.0
    bits = (np.arange(2**N)[:, None] >> np.arange(N)) & 1
    s = 2 * bits - 1
    E = -J * (s * np.roll(s, 1, axis=1)).sum(1) - H * s.sum(1)
    w = np.exp(-E / T)
    assert ring_log_partition(1 / T, H, N, J) == pytest.approx(np.log(w.sum()), rel=1e-12)
    u, m, c, chi = ring_observables(T, H, N, J)
    p = w / w.sum()
    assert u == pytest.approx((p * E).sum() / N, rel=1e-9)
    assert m == pytest.approx((p * s.sum(1)).sum() / N, rel=1e-9)
    assert c == pytest.approx(((p * E**2).sum() - (p * E).sum() ** 2) / (N * T * T), rel=1e-6)
    M = s.sum(1)
    assert chi == pytest.approx(((p * M**2).sum() - (p * M).sum() ** 2) / (N * T), rel=1e-6)


def test_ring_thermodynamic_limit_magnetization():
    T, H = 1.0, 0.2
    K, h = 1 / T, H / T
    m_inf = np.sinh(h) / np.sqrt(np.sinh(h) ** 2 + np.exp(-4 * K))
    assert ring_observables(T, H, 4000)[1] == pytest.approx(m_inf, rel=1e-8)


def test_kaufman_log_partition_of_an_array_is_the_scalar_one_elementwise():
    """The vectorised ln Z (every temperature of kaufman_observables at once) gives each
    temperature exactly the value of the scalar call, on both sides of Tc and near it."""
    from hpcrbm.exact import kaufman_log_partition
    beta = np.array([0.05, 0.3, np.log(1 + np.sqrt(2)) / 2, 0.45, 1.0, 3.0])
    for L in (2, 5, 16):
        values = kaufman_log_partition(beta, L, 0.7)
        assert values.shape == beta.shape
        assert all(values[i] == kaufman_log_partition(b, L, 0.7) for i, b in enumerate(beta))
        assert isinstance(kaufman_log_partition(0.3, L), float)
