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


# The portable sigmoid: 1 / (1 + exp(-x)) from IEEE-754 float64 additions, multiplications and one
# division, rint and a table of powers of two only (no library exp or tanh, no fused
# multiply-add), so numba, NumPy and CuPy (training_array.sigmoid) compute the same bits.
# exp(t) = 2**k exp(r) with k = rint(t / ln 2), r = t - k ln 2 in two parts (Cody-Waite, fdlibm's
# constants: k ln2_hi is exact for |k| < 2**20), |r| <= ln(2) / 2, exp(r) by Horner's rule on the
# Taylor series to r**13 / 13! (truncation below 1e-17 relative), times 2**k from POWERS_OF_TWO
# (exact). t is clamped to [-80, 80]: beyond, the sigmoid is 1 or 1.8e-35, below every resolution
# training uses (uniforms of 2**-25 at best, gradients on a grid of 2**-32). Within 2 float64 ulp
# of the true sigmoid for |x| <= 80; for float32 probabilities the series stops at r**8 / 8!
# and the float32 rounding is the correctly rounded sigmoid nearly always (tested).
INV_LN2 = 1.44269504088896338700e+00
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
EXP_CLAMP = 80.0
EXP_TERMS = (1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320, 1.0 / 362880,
             1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800)  # 1 / n!, n = 0 .. 13
SINGLE_TERMS = 9  # float32 probabilities: 1 / n! for n = 0 .. 8
TOP_POWER = 116  # |k| <= rint(80 / ln 2) = 115
POWERS_OF_TWO = np.ldexp(1.0, np.arange(-TOP_POWER, TOP_POWER + 1))  # 2**k at k + TOP_POWER


@numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _reduced(x):
    """(r, 2**k) of exp(-x) = 2**k exp(r), the argument clamped (see above)."""
    t = -x
    t = EXP_CLAMP if t > EXP_CLAMP else t
    t = -EXP_CLAMP if t < -EXP_CLAMP else t
    k = np.rint(t * INV_LN2)
    return (t - k * LN2_HI) - k * LN2_LO, POWERS_OF_TWO[np.int64(k) + TOP_POWER]


@numba.njit(cache=True, nogil=True, inline="always")
def _series_from_8(p, r):
    """Horner's rule from the r**8 term down: p is the polynomial's value at that term. (Written
    out: a loop over the terms does not vectorise.)"""
    p = p * r + EXP_TERMS[7]
    p = p * r + EXP_TERMS[6]
    p = p * r + EXP_TERMS[5]
    p = p * r + EXP_TERMS[4]
    p = p * r + EXP_TERMS[3]
    p = p * r + EXP_TERMS[2]
    p = p * r + EXP_TERMS[1]
    return p * r + EXP_TERMS[0]


@numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")
def sigmoid(x):
    """The portable sigmoid of the float64 ``x`` (see above), float64. (Comparisons rather than
    min/max and NumPy's error model, which never checks the division, let the loops vectorise.)"""
    r, scale = _reduced(x)
    p = EXP_TERMS[13]
    p = p * r + EXP_TERMS[12]
    p = p * r + EXP_TERMS[11]
    p = p * r + EXP_TERMS[10]
    p = p * r + EXP_TERMS[9]
    p = p * r + EXP_TERMS[8]
    return 1.0 / (1.0 + _series_from_8(p, r) * scale)


@numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")
def sigmoid_single(x):
    """:func:`sigmoid` with the Taylor series to r**8 / 8! (truncation below 3e-10 relative): for
    float32 probabilities, still computed in float64 and rounded once."""
    r, scale = _reduced(x)
    return 1.0 / (1.0 + _series_from_8(EXP_TERMS[SINGLE_TERMS - 1], r) * scale)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def sigmoid_inputs(sums, bias, out):
    """out = sigmoid(x) with x = sums 2**-32 + bias rounded to out's dtype, the sigmoid computed
    in float64 (:func:`sigmoid`; :func:`sigmoid_single` for float32 ``out``) and rounded once to
    out's dtype; sums (rows, n) float64."""
    rows, n = sums.shape
    single = out.itemsize == 4
    for r in range(rows):
        for j in range(n):
            out[r, j] = sums[r, j] * (1.0 / FIXED_POINT) + np.float64(bias[j])
        if single:  # a second pass: each loop vectorises
            for j in range(n):
                out[r, j] = sigmoid_single(np.float64(out[r, j]))
        else:
            for j in range(n):
                out[r, j] = sigmoid(np.float64(out[r, j]))


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
