import math

import numpy as np
import pytest

from hpcrbm.stats import block_labels, jackknife, point_summary, tau_int


def ar1(rng, phi, rounds, chains):
    x = np.empty((rounds, chains))
    x[0] = rng.normal(size=chains) / np.sqrt(1 - phi**2)
    for t in range(1, rounds):
        x[t] = phi * x[t - 1] + rng.normal(size=chains)
    return x


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_tau_int_of_ar1_process(phi):
    rng = np.random.default_rng(1)
    x = ar1(rng, phi, 4000, 8)
    exact = 0.5 * (1 + phi) / (1 - phi)
    assert tau_int(x) == pytest.approx(exact, rel=0.1)


def test_tau_int_is_nan_without_enough_rounds():
    assert np.isnan(tau_int(np.zeros((3, 10))))


def test_jackknife_error_of_mean_of_independent_samples():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 20000))
    labels = block_labels(*x.shape)
    assert labels.max() + 1 == 32
    mean, err = jackknife(lambda a: a, [x.T.reshape(1, -1)], block_labels(1, 20000))
    assert err == pytest.approx(1 / np.sqrt(20000), rel=0.3)


def test_binning_error_grows_with_autocorrelation():
    """Correlated chains: error ~ sqrt(2 tau / n), not the naive sqrt(1 / n)."""
    rng = np.random.default_rng(3)
    phi = 0.9
    x = ar1(rng, phi, 20000, 2) * np.sqrt(1 - phi**2)  # unit variance
    labels = block_labels(*x.shape)
    _, err = jackknife(lambda a: a, [x], labels)
    tau = 0.5 * (1 + phi) / (1 - phi)
    assert err == pytest.approx(np.sqrt(2 * tau / x.size), rel=0.35)


def test_block_labels_by_chain_or_by_segment():
    many = block_labels(5, 100)
    assert many.max() == 31 and (many == many[0]).all()  # whole chains per block
    few = block_labels(40, 4)
    assert few.max() + 1 == 32 and len(np.unique(few[0])) == 4 and len(np.unique(few[:, 0])) == 8


def test_point_summary_on_known_distribution():
    rng = np.random.default_rng(4)
    e = rng.normal(-1.0, 0.1, size=(200, 50))
    m = rng.choice([-0.5, 0.5], size=(200, 50))
    out = point_summary(e, m, n_sites=16, temperature=2.0)
    assert out["energy"][0] == pytest.approx(-1.0, abs=4 * out["energy"][1])
    assert out["specific_heat"][0] == pytest.approx(16 * 0.01 / 4, rel=0.05)
    assert out["abs_magnetization"] == (0.5, 0.0)
    assert out["susceptibility"][0] == pytest.approx(0.0, abs=1e-12)
    assert out["binder"][0] == pytest.approx(2 / 3)


def test_normal_z_has_the_tail_probability_of_students_t():
    from scipy import stats

    from hpcrbm.stats.statistics import normal_z
    for t, dof in ((2.0, 4), (-3.5, 9), (4.0, 31)):
        z = normal_z(t, dof)
        assert math.copysign(1, z) == math.copysign(1, t) and abs(z) < abs(t)
        assert stats.norm.sf(abs(z)) == pytest.approx(stats.t.sf(abs(t), dof), rel=1e-9)
    assert normal_z(2.5, 5000) == 2.5 and math.isnan(normal_z(1.0, 0))


def test_segments_are_at_least_min_rounds_long():
    from hpcrbm.stats.statistics import block_labels
    labels = block_labels(1000, 1, min_rounds=200)
    assert labels.max() + 1 == 5 and (np.bincount(labels.ravel()) == 200).all()
    assert block_labels(1000, 2, min_rounds=2000).max() + 1 == 2  # one segment per replica at least
    assert block_labels(1000, 40, min_rounds=2000).max() + 1 == 32  # whole replicas: independent already
