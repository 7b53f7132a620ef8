"""The neural thermometer's MLP: gradients of any depth against finite differences."""
import numpy as np
import pytest

from hpcrbm.thermometers.neural import MLP, init_mlp


@pytest.mark.parametrize("hidden", [(7,), (9, 6, 5)])
def test_gradients_match_finite_differences(hidden):
    rng = np.random.default_rng(3)
    X, y = rng.random((11, 8)), rng.integers(0, 4, 11)
    mlp = init_mlp(8, hidden, 4, seed=5, field_index=0)
    for b in mlp.biases:
        b += rng.normal(0, 0.1, b.shape)  # away from the kinks of ReLU at zero bias

    def loss(m):
        return -np.mean(np.log(m.predict_proba(X)[np.arange(len(y)), y]))
    grads = mlp.gradients(X, y)
    arrays = mlp.arrays()
    assert len(grads) == len(arrays) == 2 * (len(hidden) + 1)
    for a, g in zip(arrays, grads):
        assert g.shape == a.shape
        for idx in [tuple(rng.integers(0, n) for n in a.shape) for _ in range(4)]:
            old = a[idx]
            a[idx] = old + 1e-6
            up = loss(mlp)
            a[idx] = old - 1e-6
            down = loss(mlp)
            a[idx] = old
            assert g[idx] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-8)


def test_arrays_round_trip_in_file_order():
    mlp = init_mlp(5, (4, 3), 2, seed=1, field_index=2)
    again = MLP.from_arrays(mlp.arrays())
    X = np.random.default_rng(0).random((3, 5))
    assert np.array_equal(again.predict_proba(X), mlp.predict_proba(X))
    assert [a.shape for a in mlp.arrays()] == [(4, 5), (4,), (3, 4), (3,), (2, 3), (2,)]
