import numpy as np
import pytest

from hpcrbm.rbm.model import RBMParams, apply_gauge, encode, free_energy, hidden_probs, one_hot, visible_probs


def random_params(rng, nh, nv, q=0):
    shape = (nh, nv, q) if q else (nh, nv)
    return RBMParams(rng.normal(size=shape), rng.normal(size=shape[1:]), rng.normal(size=nh), q)


def all_visible(nv, q=0):
    if not q:
        return ((np.arange(2**nv)[:, None] >> np.arange(nv)) & 1).astype(float)
    states = np.array(np.meshgrid(*[np.arange(q)] * nv, indexing="ij")).reshape(nv, -1).T
    return one_hot(np, states, q, float).reshape(len(states), -1)


def all_hidden(nh):
    return ((np.arange(2**nh)[:, None] >> np.arange(nh)) & 1).astype(float)


@pytest.mark.parametrize("q", [0, 3])
def test_free_energy_is_minus_log_of_hidden_sum(q):
    rng = np.random.default_rng(1)
    p = random_params(rng, 3, 4, q)
    v, h = all_visible(4, q), all_hidden(3)
    energy = -(v @ p.flat_b())[:, None] - (h @ p.c)[None, :] - (v @ p.flat_W().T) @ h.T
    assert np.allclose(free_energy(np, p, v), -np.log(np.exp(-energy).sum(axis=1)))


@pytest.mark.parametrize("q", [0, 3])
def test_conditionals_match_joint_distribution(q):
    rng = np.random.default_rng(2)
    p = random_params(rng, 2, 3, q)
    v, h = all_visible(3, q), all_hidden(2)
    joint = np.exp((v @ p.flat_b())[:, None] + (h @ p.c)[None, :] + (v @ p.flat_W().T) @ h.T)
    p_h1 = (joint * h[None, :, 0]).sum(1) / joint.sum(1)  # p(h_0 = 1 | v)
    assert np.allclose(hidden_probs(np, p, v)[:, 0], p_h1)
    p_v = joint / joint.sum(0, keepdims=True)  # p(v | h), columns
    marginal_first_unit = (p_v * v[:, :1]).sum(0)  # p(unit 0 = 1 | h)
    assert np.allclose(visible_probs(np, p, h)[:, 0], marginal_first_unit)


def test_categorical_gauge_leaves_distribution_unchanged():
    rng = np.random.default_rng(3)
    p = random_params(rng, 3, 3, 3)
    v = all_visible(3, 3)
    before = -free_energy(np, p, v)
    apply_gauge(np, p)
    after = -free_energy(np, p, v)
    assert np.allclose(p.W.sum(axis=2), 0) and np.allclose(p.b.sum(axis=1), 0)
    assert np.allclose(before - before.max(), after - after.max())  # same p(v) up to normalisation


def test_encode_ising_and_potts():
    spins = np.array([[[1, -1], [-1, 1]]], np.int8)
    assert encode(spins, "bernoulli", 2).tolist() == [[1, 0, 0, 1]]
    states = np.array([[0, 2, 1]], np.int8)
    assert encode(states, "categorical", 3).reshape(3, 3).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert encode(spins, "categorical", 2).reshape(4, 2)[:, 1].tolist() == [1, 0, 0, 1]
