"""The 2D Ising torus in a field by its transfer matrix: enumeration at L = 4, Kaufman at h = 0."""
import numpy as np
import pytest

from hpcrbm.config import ModelConfig
from hpcrbm.exact import kaufman_log_partition, kaufman_observables
from hpcrbm.exact.enumeration import enumerated_observables, ising2d_bonds_and_magnetization, ising2d_energies
from hpcrbm.exact.reference import exact_observables
from hpcrbm.exact.torus_field import torus_log_partition, torus_observables


@pytest.mark.parametrize("T,h,J", [(1.5, 0.3, 1.0), (2.27, 0.1, 1.0), (3.5, -0.7, 1.0), (2.0, 0.5, -1.0),
                                   (2.5, 0.0, 1.5)])
def test_matches_enumeration_at_l4(T, h, J):
    bonds, magnet = ising2d_bonds_and_magnetization(4)
    energies = ising2d_energies(4, J, h)
    w = -energies / T
    log_z = w.max() + np.log(np.exp(w - w.max()).sum())
    assert torus_log_partition(1 / T, h, 4, J) == pytest.approx(log_z, rel=1e-12)
    u, m, c, chi = torus_observables(T, h, 4, J)
    u_ref, c_ref = enumerated_observables(energies, 16, T)
    p = np.exp(w - w.max())
    p /= p.sum()
    m_ref = (p * magnet).sum() / 16
    chi_ref = ((p * magnet**2).sum() - (p * magnet).sum() ** 2) / 16 / T
    assert (u, m, c, chi) == pytest.approx((u_ref, m_ref, c_ref, chi_ref), rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("L", [4, 6, 8])
def test_matches_kaufman_at_zero_field(L):
    for T in (1.0, 2.269, 4.0):
        assert torus_log_partition(1 / T, 0.0, L) == pytest.approx(kaufman_log_partition(1 / T, L), rel=1e-12)
    u, _, c, _ = torus_observables(2.269, 0.0, L)
    (uk,), (ck,) = kaufman_observables(2.269, L)
    assert (u, c) == pytest.approx((uk, ck), rel=1e-8)


def test_reference_uses_it_in_a_field_for_small_tori():
    u, c = exact_observables(ModelConfig(L=6), [2.0, 3.0], field=0.4)
    assert u[0] == pytest.approx(torus_observables(2.0, 0.4, 6)[0]) and c[1] == torus_observables(3.0, 0.4, 6)[2]
    assert exact_observables(ModelConfig(L=12), [2.0], field=0.4) is None  # beyond MAX_L: no reference


def test_specific_heat_maximum_in_a_field_by_a_bounded_search():
    """The maximum found by the search equals a fine scan's to the scan's resolution, and moves
    up with the field (at h = 0 it is Kaufman's)."""
    from hpcrbm.exact.reference import exact_specific_heat_peak
    model = ModelConfig(L=4)
    peak = exact_specific_heat_peak(model, 0.3, 1.0, 5.0)
    scan = np.linspace(peak - 0.02, peak + 0.02, 41)
    c = [torus_observables(T, 0.3, 4)[2] for T in scan]
    assert abs(scan[int(np.argmax(c))] - peak) <= 0.001
    assert peak > exact_specific_heat_peak(model, 0.0, 1.0, 5.0)


@pytest.mark.parametrize("L", [2, 3, 4, 6, 8, 10])
def test_momentum_blocks_give_the_whole_matrix_eigenvalues(L):
    """ln Z from the momentum blocks of the transfer matrix equals ln Z from the whole matrix
    (L even: every lambda**L >= 0, so no cancellation; relative 1e-12), ferro- and
    antiferromagnetic, low and high T, with and without a field."""
    from hpcrbm.exact.torus_field import torus_log_partition_dense
    for beta, h, J in ((0.2, 0.0, 1.0), (0.44, 0.3, 1.0), (1.5, -0.8, 1.0), (0.7, 0.5, -1.0)):
        if L % 2 and J < 0:
            continue  # frustrated odd rings: eigenvalues of both signs cancel in sum lambda**L
        blocks, dense = torus_log_partition(beta, h, L, J), torus_log_partition_dense(beta, h, L, J)
        assert blocks == pytest.approx(dense, rel=1e-12, abs=0), (beta, h, J)


@pytest.mark.slow
def test_the_exact_maximum_in_a_field_does_not_depend_on_blas_threads():
    """The momentum blocks are small enough for LAPACK to run them unthreaded: the exact c maximum
    at H = 0.5 (L = 10) is the same bits with 1 and 2 BLAS threads, so a serial run's summary.json
    equals an mpiexec run's."""
    import os
    import subprocess
    import sys
    code = ("from hpcrbm.config import ModelConfig; from hpcrbm.exact.reference import exact_specific_heat_peak; "
            "print(repr(exact_specific_heat_peak(ModelConfig(kind='ising', dim=2, L=10), 0.5, 1.0, 4.0)))")
    values = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}).stdout
              for threads in ("1", "2")}
    assert len(values) == 1, values
