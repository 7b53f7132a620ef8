"""The numba kernels of a training update against their NumPy twins, bit for bit."""
import numpy as np
import pytest

from hpcrbm.rbm.kernels import training_cpu as k
from hpcrbm.rbm.model import sample_bernoulli, sample_categorical
from hpcrbm.rbm.training import fixed_point
from hpcrbm.rng.philox import seed_key
from hpcrbm.rng.streams import Purpose
from hpcrbm.rng.uniform import uniforms

SEED, POINT, STEP = 11, 37, 5


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return np.dtype(request.param)


def test_quantised_weights_are_fixed_point_with_a_bound_on_the_row_and_column_sums(dtype):
    W = (np.random.default_rng(0).normal(size=(7, 13)) * 0.3).astype(dtype)
    Wq, largest = k.quantised_weights(W)
    sums = max(np.abs(fixed_point(W)).sum(0).max(), np.abs(fixed_point(W)).sum(1).max())
    assert np.array_equal(Wq, fixed_point(W)) and sums <= largest == np.abs(Wq).max() * 13
    huge = np.full((3, 5), 2.0**19, dtype)  # bound 5 * 2**51 >= 2**53: the sums themselves
    huge[0, 0] = 2.0**20
    assert k.quantised_weights(huge)[1] == (2.0**20 + 4 * 2.0**19) * 2.0**32  # row 0


def test_scaled_inputs_round_once_from_float64(dtype):
    rng = np.random.default_rng(1)
    sums = np.rint(rng.normal(size=(9, 6)) * 2.0**34)
    bias = rng.normal(size=6).astype(dtype)
    out = np.empty((9, 6), dtype)
    k.scaled_inputs(sums, bias, out)
    assert np.array_equal(out, (sums / 2.0**32 + bias).astype(dtype))


def test_phase_difference_counts_units_on_minus_off():
    rows = (np.random.default_rng(5).random((9, 6)) < 0.5).astype(np.float64)
    out = np.empty(6)
    k.phase_difference(rows, 4, out)
    assert np.array_equal(out, rows[:4].sum(0) - rows[4:].sum(0))


def _stream(shape, dtype, ids, part, width_stride):
    return uniforms(shape, dtype, SEED, ids, STEP, POINT, Purpose.RBM_GIBBS, offset=part * width_stride)


def test_bernoulli_sampling_uses_the_uniforms_of_the_stream(dtype):
    rng = np.random.default_rng(3)
    probs = rng.random((6, 10)).astype(dtype)
    ids = np.array([0, 3, 4, 9, 100, 2**40])
    probs[0] = _stream((6, 10), dtype, ids, 1, 12)[0]  # ties: u < p is false
    out = np.empty_like(probs)
    k.sample_bernoulli_rows(probs, ids, STEP, 3, POINT * 256 + int(Purpose.RBM_GIBBS), *seed_key(SEED), out)
    expected = sample_bernoulli(np, probs, _stream((6, 10), dtype, ids, 1, 12))
    assert np.array_equal(out, expected) and out.dtype == dtype and 0 < out.mean() < 1


@pytest.mark.parametrize("q", [2, 3, 5])
def test_categorical_sampling_uses_the_uniforms_of_the_stream(dtype, q):
    rng = np.random.default_rng(4 + q)
    sites, rows = 8, 50
    logits = rng.normal(size=(rows, sites, q)) * 2
    probs = (np.exp(logits) / np.exp(logits).sum(2, keepdims=True)).astype(dtype).reshape(rows, -1)
    ids = np.arange(rows) * 7
    out = np.empty_like(probs)
    k.sample_categorical_rows(probs, q, ids, STEP, 2, POINT * 256 + int(Purpose.RBM_GIBBS), *seed_key(SEED), out)
    expected = sample_categorical(np, probs, _stream((rows, sites), dtype, ids, 1, 8), q)
    assert np.array_equal(out, expected)
    assert np.array_equal(out.reshape(rows, sites, q).sum(2), np.ones((rows, sites)))


@pytest.mark.parametrize("momentum, decay, biases", [(0.0, 0.0, True), (0.9, 1e-3, True), (0.5, 0.0, False)])
def test_sgd_step_is_numpys_in_place_update(dtype, momentum, decay, biases):
    """The update NumPy code would make: grad times learning_rate / batch / scale, momentum and decay
    with NEP 50 typing."""
    rng = np.random.default_rng(10)
    W, b, c = (rng.normal(size=n).astype(dtype) for n in ((4, 6), 6, 4))
    vW, vb, vc = (rng.normal(size=a.shape).astype(dtype) * 0.01 for a in (W, b, c))
    grad = np.rint(rng.normal(size=24 + 6 + 4) * 2.0**36)
    grad[24:30] = rng.integers(-50, 50, 6)
    expected = [a.copy() for a in (W, b, c, vW, vb, vc)]
    parts = (grad[:24].reshape(4, 6) * (0.01 / 50 / 2.0**32), grad[24:30] * (0.01 / 50),
             grad[30:] * (0.01 / 50 / 2.0**32))
    for param, vel, g in list(zip(expected[:3], expected[3:], parts))[:3 if biases else 1]:
        if momentum:
            vel *= momentum
            vel += g
        else:
            vel[...] = g
        if decay and param is expected[0]:
            vel -= 0.01 * decay * param
        param += vel
    k.sgd_step(grad, *(a.reshape(-1) for a in (W, b, c, vW, vb, vc)), 50, 0.01, momentum, decay, biases, 2.0**32)
    assert all(np.array_equal(x, y) for x, y in zip((W, b, c, vW, vb, vc), expected))


def test_the_portable_sigmoid_is_accurate_and_the_same_in_numba_and_numpy():
    """The portable sigmoid in float64 and in float32 operations (numba: training_cpu, the float32
    one with 2**k made from its bits; any array module: training_array) gives the same bits on
    every argument tried, within 4 float64 ulp, resp. 4 float32 ulp, of the sigmoid computed in
    extended precision."""
    from hpcrbm.rbm.kernels.training_array import sigmoid as array_sigmoid
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(size=20000) * s for s in (0.1, 1.0, 5.0, 30.0, 400.0)]
                       + [np.array([0.0, -0.0, 1e-300, -1e-300, 700.0, -700.0, 745.0, -745.0, 1e6, -1e6])])
    within = np.abs(x) <= 80  # beyond: 1, or 1.8e-35 (exp's argument is clamped at 80)
    for dtype, ulps in ((np.float64, 4), (np.float32, 4)):
        inputs = x.astype(dtype)
        out = np.empty((1, len(x)), dtype)
        k._probabilities(np.zeros((1, len(x)), dtype), dtype(1.0), inputs, out)  # x as the bias
        assert np.array_equal(out[0], array_sigmoid(np, inputs)), dtype
        if dtype == np.float64:
            assert np.array_equal(np.array([k.sigmoid(value) for value in x[:2000]]), out[0, :2000])
        reference = 1 / (1 + np.exp(-inputs[within].astype(np.longdouble)))
        ulp = np.abs(out[0, within] - reference) / np.spacing(reference.astype(dtype))
        assert ulp.max() <= ulps, (dtype, ulp.max())
        assert np.all(out[0, x > 40] == 1.0) and np.all(out[0, x < -80] <= 1.9e-35)


def _update_arguments(dtype, q, persistent, gibbs_steps, scale=0.3, seed=12):
    """Arguments of gradient_sums for a small RBM: 40 data rows, a batch of 10 of them."""
    rng = np.random.default_rng(seed)
    nv, nh = 9, 6
    units = nv * max(q, 1)
    if q:
        data = np.eye(q, dtype=dtype)[rng.integers(0, q, (40, nv))].reshape(40, units)
    else:
        data = (rng.random((40, units)) < 0.4).astype(dtype)
    W = (rng.normal(size=(nh, units)) * scale).astype(dtype)
    b, c = rng.normal(size=units).astype(dtype), rng.normal(size=nh).astype(dtype)
    rows = rng.permutation(40)[:10]
    chains = data[rng.permutation(40)[:10]].copy() if persistent else data[:0]
    ids = np.arange(10) if persistent else rows
    return (data, rows, chains, persistent, ids, gibbs_steps, W, b, c, q, STEP, 16, POINT * 256 + 7,
            *seed_key(SEED), 20)


@pytest.mark.parametrize("q, persistent, gibbs_steps", [(0, True, 1), (0, False, 2), (3, True, 1), (3, False, 1)])
def test_gradient_sums_are_the_array_twins_and_exact(dtype, q, persistent, gibbs_steps):
    """The fused update (numba) and its array twin (NumPy) give the same bits; the gradient is
    the float64 formula on the rounded operands (the products exact), and the grids are the
    finest whose sums stay exact (2**-s: largest |W| times the longer side within the mantissa)."""
    from hpcrbm.rbm.kernels.training_array import ArrayKernels
    args = _update_arguments(dtype, q, persistent, gibbs_steps)
    data, rows, chains, _, _, _, W, b, c = args[:9]
    units, nh = W.shape[1], W.shape[0]
    out = [(np.empty(nh * units + units + nh), np.empty((10, units), dtype)) for _ in range(2)]
    grids = k.gradient_sums(*args, *out[0]), ArrayKernels().gradient_sums(*args, *out[1])
    assert grids[0] == grids[1] and all(np.array_equal(x, y) for x, y in zip(out[0], out[1]))
    s, t = grids[0]
    mantissa = 24 if dtype == np.float32 else 53
    n = max(W.shape)
    assert n * np.rint(np.abs(W).max() * 2.0**s) <= 2**mantissa < n * np.rint(np.abs(W).max() * 2.0**(s + 1)) or s == 32
    assert 20 * 2.0**t <= 2**mantissa and (20 * 2.0**(t + 1) > 2**mantissa or t == 32)
    grad, vk = out[0]
    v0 = data[rows].astype(np.float64)
    Wq = np.rint(W.astype(np.float64) * 2.0**s)
    x0 = (v0 @ Wq.T).astype(dtype) * dtype.type(2.0**-s) + c
    xk = (vk.astype(np.float64) @ Wq.T).astype(dtype) * dtype.type(2.0**-s) + c
    from hpcrbm.rbm.kernels.training_array import sigmoid as array_sigmoid
    p0 = np.rint(array_sigmoid(np, x0).astype(np.float64) * 2.0**t)
    pk = np.rint(array_sigmoid(np, xk).astype(np.float64) * 2.0**t)
    expected = np.concatenate([(p0.T @ v0 - pk.T @ vk).ravel(), v0.sum(0) - vk.sum(0), p0.sum(0) - pk.sum(0)])
    assert np.array_equal(grad, expected)
    if q:
        assert np.array_equal(vk.reshape(10, -1, q).sum(2), np.ones((10, units // q)))


def test_weights_too_large_for_the_grid_compute_nothing():
    """max |W| = 2**17 at 9 units needs a float32 grid coarser than 2**-8: (s, t) with s < 8."""
    args = list(_update_arguments(np.dtype(np.float32), 0, True, 1))
    args[6] = args[6].copy()
    args[6][0, 0] = 2.0**17
    s, _ = k.gradient_sums(*args, np.full(6 * 9 + 9 + 6, 7.0), np.empty((10, 9), np.float32))
    assert s < k.WEIGHT_GRID_FLOOR
