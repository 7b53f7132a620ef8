"""Numba kernels of one RBM training update: weights in fixed point, sampling, signed
probabilities. The products themselves are BLAS products (dgemm) of integer-valued float64
operands, exact in any order (training.ExactProducts).

Their NumPy twins (training.fixed_point, model.sample_*, and the NumPy update written out in
tests/rbm/test_kernels.py) must agree with them bit for bit there. Each kernel is one pass over
its arrays where NumPy would make several.

Uniforms are those of ``rng.uniform.uniforms``: word ``first_block * 4 + u`` of the Philox
stream (block, step, ids[i], c3) for column u, as ((word >> 8) + 0.5) * 2**-24 rounded to the
probabilities' dtype (25 bits: float32 rounds the upper half) before the comparison.
"""
import numba
import numpy as np

from ... import use_kernel_cache
from ...rng.philox import fill_words
from ...rng.uniform import SCALE

use_kernel_cache()  # before any cache=True function

FIXED_POINT = 2.0**32  # scale of the exact products (training.ExactProducts)
xp = np  # the array module of these kernels' arrays (kernels_array.ArrayKernels.xp for the others)
runner = None  # no CUDA module: uniforms from the numba streams


@numba.njit(cache=True, nogil=True)
def quantised_weights(W):
    """(Wq, largest): Wq = rint(W 2**32) as float64 (Nh, units) for W (Nh, units) (float32/64);
    largest: max |Wq| times the longer side, an upper bound on every row and column sum of |Wq|,
    replaced by the largest of those sums themselves when the bound reaches 2**53."""
    nh, units = W.shape
    Wq = np.empty((nh, units))
    top = 0.0
    for j in range(nh):
        for i in range(units):
            x = np.rint(np.float64(W[j, i]) * FIXED_POINT)
            Wq[j, i] = x
            top = max(top, abs(x))
    largest = top * max(nh, units)
    if largest < 2.0**53:
        return Wq, largest
    columns = np.zeros(units)
    largest = 0.0
    for j in range(nh):
        row = 0.0
        for i in range(units):
            row += abs(Wq[j, i])
            columns[i] += abs(Wq[j, i])
        largest = max(largest, row)
    for i in range(units):
        largest = max(largest, columns[i])
    return Wq, largest


@numba.njit(cache=True, nogil=True)
def scaled_inputs(sums, bias, out):
    """out = sums 2**-32 + bias, rounded once to out's dtype; sums (rows, n) float64, bias (n,)."""
    rows, n = sums.shape
    for r in range(rows):
        for j in range(n):
            out[r, j] = sums[r, j] * (1.0 / FIXED_POINT) + np.float64(bias[j])


@numba.njit(cache=True, nogil=True)
def half_inputs(sums, bias, out):
    """out = 0.5 x with x = sums 2**-32 + bias rounded to out's dtype (the argument of tanh in
    model.sigmoid: 0.5 (1 + tanh(x / 2))); 0.5 x is computed in out's dtype, as NumPy does."""
    rows, n = sums.shape
    for r in range(rows):
        for j in range(n):
            out[r, j] = sums[r, j] * (1.0 / FIXED_POINT) + np.float64(bias[j])
            out[r, j] = out[r, j] * 0.5


@numba.njit(cache=True, nogil=True)
def gather_rows(data, index, out):
    """out[k] = data[index[k]] (converted to out's dtype)."""
    for k in range(len(index)):
        source = data[index[k]]
        for i in range(out.shape[1]):
            out[k, i] = source[i]


@numba.njit(cache=True, nogil=True)
def signed_fixed_point(positive, negative, out, sums):
    """out (rows_p + rows_n, n) float64 = [rint(positive 2**32); -rint(negative 2**32)] and
    sums (n,) = its column sums (integer-valued: exact)."""
    rows_p, n = positive.shape
    sums[:] = 0.0
    for r in range(rows_p):
        for j in range(n):
            out[r, j] = np.rint(np.float64(positive[r, j]) * FIXED_POINT)
            sums[j] += out[r, j]
    for r in range(negative.shape[0]):
        for j in range(n):
            out[rows_p + r, j] = -np.rint(np.float64(negative[r, j]) * FIXED_POINT)
            sums[j] += out[rows_p + r, j]


@numba.njit(cache=True, nogil=True)
def phase_difference(rows, n_positive, out):
    """out (units,) = column sums of rows[:n_positive] minus those of rows[n_positive:]
    (0/1 values: exact counts)."""
    out[:] = 0.0
    for r in range(rows.shape[0]):
        sign = 1.0 if r < n_positive else -1.0
        for i in range(rows.shape[1]):
            out[i] += sign * rows[r, i]


@numba.njit(cache=True, nogil=True)
def sample_bernoulli_rows(probs, ids, step, first_block, c3, k0, k1, out):
    """out[i, u] = 1 if uniform(i, u) < probs[i, u] else 0 (probs, out (rows, m))."""
    n, m = probs.shape
    words = np.empty(((m + 3) // 4) * 4, dtype=np.uint32)
    uniform = np.empty(m, probs.dtype)
    kk0, kk1, cc3 = np.uint64(k0), np.uint64(k1), np.uint64(c3)
    for i in range(n):
        fill_words(words, first_block, m, step, ids[i], cc3, kk0, kk1)
        for u in range(m):
            uniform[u] = ((words[u] >> np.uint32(8)) + 0.5) * SCALE
        for u in range(m):
            out[i, u] = uniform[u] < probs[i, u]


@numba.njit(cache=True, nogil=True)
def sample_categorical_rows(probs, q, ids, step, first_block, c3, k0, k1, out):
    """One-hot states out (rows, sites * q) from per-site probabilities probs (rows, sites * q),
    one uniform per site: the state is the number of cumulative sums (in the probabilities'
    dtype, in order) below the uniform, at most q - 1 (model.sample_categorical)."""
    n, units = probs.shape
    sites = units // q
    words = np.empty(((sites + 3) // 4) * 4, dtype=np.uint32)
    cumulative = np.empty(q, probs.dtype)
    uniform = np.empty(1, probs.dtype)
    kk0, kk1, cc3 = np.uint64(k0), np.uint64(k1), np.uint64(c3)
    for i in range(n):
        fill_words(words, first_block, sites, step, ids[i], cc3, kk0, kk1)
        for site in range(sites):
            uniform[0] = ((words[site] >> np.uint32(8)) + 0.5) * SCALE
            u = uniform[0]
            base = site * q
            cumulative[0] = probs[i, base]
            for a in range(1, q):
                cumulative[a] = cumulative[a - 1] + probs[i, base + a]
            state = 0
            for a in range(q):
                state += cumulative[a] < u
            state = min(state, q - 1)
            for a in range(q):
                out[i, base + a] = a == state


@numba.njit(cache=True, nogil=True)
def _sgd(param, velocity, grad, scale, batch_size, learning_rate, momentum, decay):
    """One parameter's step with the operations and roundings of NumPy's in-place code (NEP 50:
    Python floats take the arrays' dtype): g = grad / scale / batch_size (float64);
    momentum: v = v * momentum + learning_rate g, else v = learning_rate g (float64, rounded once);
    decay: v -= (learning_rate decay) param; param += v."""
    typed = np.empty(2, param.dtype)
    typed[0] = momentum
    typed[1] = learning_rate * decay
    for i in range(param.size):
        step = learning_rate * (grad[i] / scale / batch_size)
        if momentum != 0.0:
            velocity[i] = velocity[i] * typed[0]
            velocity[i] = np.float64(velocity[i]) + step
        else:
            velocity[i] = step
        if decay != 0.0:
            velocity[i] = velocity[i] - typed[1] * param[i]
        param[i] = param[i] + velocity[i]


@numba.njit(cache=True, nogil=True)
def sgd_step(grad, W, b, c, vW, vb, vc, batch_size, learning_rate, momentum, decay, biases):
    """The SGD update of W, b, c (flat views) from the summed gradient [W (scale 2**32), b, c
    (scale 2**32)] of one batch; b and c only with ``biases``, weight decay on W only."""
    nW, nb = W.size, b.size
    _sgd(W, vW, grad[:nW], FIXED_POINT, batch_size, learning_rate, momentum, decay)
    if biases:
        _sgd(b, vb, grad[nW:nW + nb], 1.0, batch_size, learning_rate, momentum, 0.0)
        _sgd(c, vc, grad[nW + nb:], FIXED_POINT, batch_size, learning_rate, momentum, 0.0)
