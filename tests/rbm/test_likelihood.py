import numpy as np
import pytest

from hpcrbm.rbm.likelihood import ais_log_partition, exact_log_partition
from hpcrbm.rbm.model import RBMParams

from .test_model import all_hidden, all_visible, random_params


@pytest.mark.parametrize("nh,nv,q", [(4, 6, 0), (3, 3, 3), (1, 5, 0)])
def test_exact_log_partition_equals_enumeration(nh, nv, q):
    p = random_params(np.random.default_rng(nh + nv), nh, nv, q)
    v, h = all_visible(nv, q), all_hidden(nh)
    minus_energy = (v @ p.flat_b())[:, None] + (h @ p.c)[None, :] + (v @ p.flat_W().T) @ h.T
    top = minus_energy.max()
    assert exact_log_partition(p) == pytest.approx(top + np.log(np.exp(minus_energy - top).sum()), rel=1e-12)


@pytest.mark.parametrize("q", [0, 3])
def test_ais_agrees_with_exact(q):
    rng = np.random.default_rng(5)
    shape = (10, 12, q) if q else (10, 12)
    p = RBMParams(0.5 * rng.normal(size=shape), 0.3 * rng.normal(size=shape[1:]), 0.3 * rng.normal(size=10), q)
    exact = exact_log_partition(p)
    estimate, error = ais_log_partition(p, np.zeros(p.units), seed=3, chains=200, steps=1000)
    assert error < 0.05
    assert abs(estimate - exact) < max(4 * error, 0.02), (estimate, error, exact)
