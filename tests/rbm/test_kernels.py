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


def test_signed_fixed_point():
    rng = np.random.default_rng(2)
    a, b = rng.random((4, 5)).astype(np.float32), rng.random((3, 5)).astype(np.float32)
    a[0, 0] = 0.5 + 2.0**-24  # rint of exact halves: to even, the same for +x and -x
    out, sums = np.empty((7, 5)), np.empty(5)
    k.signed_fixed_point(a, b, out, sums)
    assert np.array_equal(out, fixed_point(np.concatenate([a, -b]))) and np.array_equal(sums, out.sum(0))


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


@pytest.mark.parametrize("q", [0, 3])
def test_exact_products_are_the_numpy_formulas(dtype, q):
    """ExactProducts (BLAS products of fixed-point weights, the portable sigmoid) against the plain
    NumPy expressions on the same fixed-point products."""
    from hpcrbm.rbm.kernels.training_array import sigmoid
    from hpcrbm.rbm.kernels.training_cpu import EXP_TERMS, SINGLE_TERMS
    from hpcrbm.rbm.model import RBMParams, probs_from_logits
    from hpcrbm.rbm.training import ExactProducts
    rng = np.random.default_rng(9)
    nv, nh = 12, 7
    units = nv * max(q, 1)
    W = rng.normal(size=(nh, nv, q) if q else (nh, nv)).astype(dtype)
    params = RBMParams(W, rng.normal(size=W.shape[1:]).astype(dtype), rng.normal(size=nh).astype(dtype), q)
    v = (rng.random((30, units)) < 0.5).astype(dtype)
    h = (rng.random((30, nh)) < 0.5).astype(dtype)
    exact = ExactProducts(params, dtype)
    Wq = fixed_point(params.flat_W())
    terms = SINGLE_TERMS if dtype == np.float32 else len(EXP_TERMS)
    hidden = sigmoid(np, ((v.astype(np.float64) @ Wq.T) / 2.0**32 + params.c).astype(dtype).astype(np.float64), terms)
    logits = ((h.astype(np.float64) @ Wq) / 2.0**32 + params.flat_b()).astype(dtype)
    assert np.array_equal(exact.hidden_probs(v), hidden.astype(dtype))
    visible = probs_from_logits(np, logits, nv, q) if q else sigmoid(np, logits.astype(np.float64), terms).astype(dtype)
    assert np.array_equal(exact.visible_probs(h), visible)


@pytest.mark.parametrize("momentum, decay, biases", [(0.0, 0.0, True), (0.9, 1e-3, True), (0.5, 0.0, False)])
def test_sgd_step_is_numpys_in_place_update(dtype, momentum, decay, biases):
    """The update NumPy code would make: grad scaled, momentum and decay with NEP 50 typing."""
    rng = np.random.default_rng(10)
    W, b, c = (rng.normal(size=n).astype(dtype) for n in ((4, 6), 6, 4))
    vW, vb, vc = (rng.normal(size=a.shape).astype(dtype) * 0.01 for a in (W, b, c))
    grad = np.rint(rng.normal(size=24 + 6 + 4) * 2.0**36)
    grad[24:30] = rng.integers(-50, 50, 6)
    expected = [a.copy() for a in (W, b, c, vW, vb, vc)]
    parts = (grad[:24].reshape(4, 6) / 2.0**32 / 50, grad[24:30] / 50, grad[30:] / 2.0**32 / 50)
    for param, vel, g in list(zip(expected[:3], expected[3:], parts))[:3 if biases else 1]:
        if momentum:
            vel *= momentum
            vel += 0.01 * g
        else:
            vel[...] = 0.01 * g
        if decay and param is expected[0]:
            vel -= 0.01 * decay * param
        param += vel
    k.sgd_step(grad, *(a.reshape(-1) for a in (W, b, c, vW, vb, vc)), 50, 0.01, momentum, decay, biases)
    assert all(np.array_equal(x, y) for x, y in zip((W, b, c, vW, vb, vc), expected))


def test_the_portable_sigmoid_is_accurate_and_the_same_in_numba_and_numpy():
    """kernels.training_cpu.sigmoid (numba) and training_array.sigmoid (any array module) give the
    same bits on every float64 argument tried, within 4 ulp of the sigmoid computed in extended
    precision, and its float32 roundings equal the correctly rounded sigmoid but for a few ties."""
    from hpcrbm.rbm.kernels.training_array import sigmoid as array_sigmoid
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(size=20000) * s for s in (0.1, 1.0, 5.0, 30.0, 400.0)]
                       + [np.array([0.0, -0.0, 1e-300, -1e-300, 700.0, -700.0, 745.0, -745.0, 1e6, -1e6])])
    fast = np.array([k.sigmoid(value) for value in x[:2000]])
    out = np.empty((1, len(x)))
    k.sigmoid_inputs(np.zeros((1, len(x))), x, out)  # x as the bias: the inputs themselves
    assert np.array_equal(out[0], array_sigmoid(np, x))
    assert np.array_equal(fast, out[0, :2000])
    within = np.abs(x) <= 80  # beyond: 1, or 1.8e-35 (exp's argument is clamped at 80)
    reference = 1 / (1 + np.exp(-x[within].astype(np.longdouble)))
    ulp = np.abs(out[0, within] - reference) / np.spacing(reference.astype(np.float64))
    assert ulp.max() <= 4, ulp.max()
    single = np.empty((1, len(x)), np.float32)
    k.sigmoid_inputs(np.zeros((1, len(x))), x.astype(np.float32), single)
    assert np.array_equal(single[0], array_sigmoid(np, x.astype(np.float32).astype(np.float64), 9).astype(np.float32))
    exact32 = (1 / (1 + np.exp(-x[within].astype(np.float32).astype(np.longdouble)))).astype(np.float32)
    assert np.mean(single[0, within] == exact32) > 0.999
    assert np.all(out[0, x > 40] == 1.0) and np.all(out[0, x < -80] <= 1.9e-35)
