"""Numba kernels of one RBM training update: :func:`gradient_sums` (the whole update but the
allreduce, in one call: exact products in the parameters' dtype on grids chosen from max |W| and
the batch, the portable sigmoid and softmax, Philox sampling, the gradient's sums) and
:func:`sgd_step`; :func:`epoch_updates`, an epoch's updates in one call (one rank, or ranks on one
node summing through parallel/node_sum.py); the fixed-point weights of the exact free energy
(training.ExactProducts).

Their array twins (kernels/training_array.py: NumPy or CuPy) agree with them bit for bit
(tests/rbm/test_kernels.py, tests/rbm/test_device_training.py).

Uniforms are those of ``rng.uniform.uniforms``: word ``first_block * 4 + u`` of the Philox
stream (block, step, ids[i], c3) for column u, as ((word >> 8) + 0.5) * 2**-24 rounded to the
probabilities' dtype (25 bits: float32 rounds the upper half) before the comparison.
"""
import math

import numba
import numpy as np

from ... import use_kernel_cache
from ...parallel import node_sum
from ...rng.philox import fill_words
from ...rng.uniform import SCALE
from . import int8_products

use_kernel_cache()  # before any cache=True function

FIXED_POINT = 2.0**32  # scale of the exact free energies' products (training.ExactProducts)
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
TOP_POWER = 116  # |k| <= rint(80 / ln 2) = 115
POWERS_OF_TWO = np.ldexp(1.0, np.arange(-TOP_POWER, TOP_POWER + 1))  # 2**k at k + TOP_POWER


@numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _reduced(t):
    """(r, 2**k) of exp(t) = 2**k exp(r), the argument clamped (see above)."""
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
def exp_double(t):
    """The portable exp of the float64 ``t`` clamped to [-80, 80] (see above), float64."""
    r, scale = _reduced(t)
    p = EXP_TERMS[13]
    p = p * r + EXP_TERMS[12]
    p = p * r + EXP_TERMS[11]
    p = p * r + EXP_TERMS[10]
    p = p * r + EXP_TERMS[9]
    p = p * r + EXP_TERMS[8]
    return _series_from_8(p, r) * scale


@numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")
def sigmoid(x):
    """The portable sigmoid of the float64 ``x`` (see above), float64. (Comparisons rather than
    min/max and NumPy's error model, which never checks the division, let the loops vectorise.)"""
    return 1.0 / (1.0 + exp_double(-x))


# The same in float32 arithmetic, for the float32 trainer (16 lanes where float64 has 8): Cody-Waite
# with cephes's constants (k LN2_HI_SINGLE exact for |k| < 2**15), the Taylor series to r**7 / 7!
# (truncation below 6e-9 relative), 2**k from a float32 table. Within a few float32 ulp of the
# true function; the same bits in numba, NumPy and CuPy (training_array.exp_single).
INV_LN2_SINGLE = np.float32(INV_LN2)
LN2_HI_SINGLE = np.float32(0.693359375)
LN2_LO_SINGLE = np.float32(-2.12194440e-4)
EXP_CLAMP_SINGLE = np.float32(EXP_CLAMP)
EXP_TERMS_SINGLE = tuple(np.float32(term) for term in EXP_TERMS[:8])
ONE_SINGLE = np.float32(1.0)
POWERS_OF_TWO_SINGLE = POWERS_OF_TWO.astype(np.float32)  # 2**-116 .. 2**116: float32 normals


@numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _exp_single_parts(t):
    """(exp(r), k) with exp(t) = 2**k exp(r), t float32 clamped to [-80, 80] (float32 operations)."""
    t = EXP_CLAMP_SINGLE if t > EXP_CLAMP_SINGLE else t
    t = -EXP_CLAMP_SINGLE if t < -EXP_CLAMP_SINGLE else t
    k = np.rint(t * INV_LN2_SINGLE)
    r = (t - k * LN2_HI_SINGLE) - k * LN2_LO_SINGLE
    p = EXP_TERMS_SINGLE[7] * r + EXP_TERMS_SINGLE[6]
    p = p * r + EXP_TERMS_SINGLE[5]
    p = p * r + EXP_TERMS_SINGLE[4]
    p = p * r + EXP_TERMS_SINGLE[3]
    p = p * r + EXP_TERMS_SINGLE[2]
    p = p * r + EXP_TERMS_SINGLE[1]
    return p * r + EXP_TERMS_SINGLE[0], k


@numba.njit(cache=True, nogil=True, inline="always", error_model="numpy")
def exp_single(t):
    """The portable exp of the float32 ``t`` clamped to [-80, 80], in float32 operations only."""
    p, k = _exp_single_parts(t)
    return p * POWERS_OF_TWO_SINGLE[np.int64(k) + TOP_POWER]


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
def _sgd(param, velocity, grad, factor, momentum, decay):
    """One parameter's step with the operations and roundings of NumPy's in-place code (NEP 50:
    Python floats take the arrays' dtype): step = grad factor (float64); momentum: v = v * momentum
    + step, else v = step (float64, rounded once); decay: v -= (learning_rate decay) param;
    param += v. (``decay`` is learning_rate times the weight decay.)"""
    typed = np.empty(2, param.dtype)
    typed[0] = momentum
    typed[1] = decay
    for i in range(param.size):
        step = grad[i] * factor
        if momentum != 0.0:
            velocity[i] = velocity[i] * typed[0]
            velocity[i] = np.float64(velocity[i]) + step
        else:
            velocity[i] = step
        if decay != 0.0:
            velocity[i] = velocity[i] - typed[1] * param[i]
        param[i] = param[i] + velocity[i]


@numba.njit(cache=True, nogil=True)
def sgd_step(grad, W, b, c, vW, vb, vc, batch_size, learning_rate, momentum, decay, biases, scale):
    """The SGD update of W, b, c (flat views) from the summed gradient [W (times ``scale``), b, c
    (times ``scale``)] of one batch: steps of learning_rate / batch_size / scale times the sums
    (learning_rate / batch_size for b); b and c only with ``biases``, weight decay on W only."""
    nW, nb = W.size, b.size
    factor = learning_rate / batch_size
    _sgd(W, vW, grad[:nW], factor / scale, momentum, learning_rate * decay)
    if biases:
        _sgd(b, vb, grad[nW:nW + nb], factor, momentum, 0.0)
        _sgd(c, vc, grad[nW + nb:], factor / scale, momentum, 0.0)


# -- the fused update: exact products in the parameters' dtype ----------------------------------
# Every product of an update has a binary operand (data, sampled visible and hidden states). With
# the product copy of W rounded to a multiple of 2**-s and the probabilities in the gradient sums to
# a multiple of 2**-t, every partial sum is an integer of magnitude at most 2**24 (float32) or
# 2**53 (float64): exact in any order, so a BLAS product (sgemm or dgemm, any blocking, any device)
# gives the same bits, and ranks summing their rows give the same total. s and t are the finest
# grids (at most 2**-32) within that bound, chosen from the largest |W| and the number of rows of
# the global batch (grid_exponent): the same on every rank and device. The master weights keep
# their dtype's precision; only the copy used in the products is rounded.
GRID_CAP = 32  # the finest grid: 2**-32
WEIGHT_GRID_FLOOR = 8  # coarser weight grids than 2**-8 are refused (training.ExactGridError)


def mantissa_bits(dtype):
    """Bits of an integer exact in ``dtype``'s products: 24 (float32) or 53 (float64)."""
    return np.finfo(dtype).nmant + 1


@numba.njit(cache=True, nogil=True)
def grid_exponent(largest, n, mantissa):
    """The largest s <= GRID_CAP with n rint(largest 2**s) <= 2**mantissa: a sum of n values of
    magnitude at most ``largest``, each rounded to a multiple of 2**-s, is then exact (-1: none
    with s >= 0). Integer arithmetic only: the same s everywhere."""
    limit = np.float64((np.int64(1) << mantissa) // n)
    s = GRID_CAP
    while s >= 0 and np.rint(math.ldexp(largest, s)) > limit:
        s -= 1
    return s


@numba.njit(cache=True, nogil=True)
def _largest_single(W):
    """max |W| of a C-contiguous float32 array, as float64: the largest of the magnitudes' bit
    patterns, which order like the magnitudes (an integer maximum in a scalar: it vectorises)."""
    bits = W.reshape(-1).view(np.int32)
    top = 0  # a scalar, not an array element: the loop vectorises
    for i in range(bits.size):
        top = max(top, bits[i] & np.int32(0x7FFFFFFF))
    out = np.empty(1, np.int32)
    out[0] = top
    return np.float64(out.view(np.float32)[0])


@numba.njit(cache=True, nogil=True)
def _largest_double(W):
    """:func:`_largest_single` for float64 arrays."""
    bits = W.reshape(-1).view(np.int64)
    top = 0
    for i in range(bits.size):
        top = max(top, bits[i] & np.int64(0x7FFFFFFFFFFFFFFF))
    out = np.empty(1, np.int64)
    out[0] = top
    return out.view(np.float64)[0]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _probabilities(sums, scale, bias, out):
    """out = sigmoid(sums scale + bias) in out's dtype: 1 / (1 + exp_single(-x)) in float32
    operations for float32 arrays, :func:`sigmoid` for float64 (sums, out (rows, n); bias (n,)).
    (In float32, 2**k is made from its bits, which lets the loops vectorise: the same value as
    the table's.)"""
    rows, n = sums.shape
    powers = np.empty(n, np.int32)  # the bits of the float32 2**k
    scales = powers.view(np.float32)
    for r in range(rows):
        if out.itemsize == 4:
            for j in range(n):
                p, k = _exp_single_parts(np.float32(-(sums[r, j] * scale + bias[j])))
                out[r, j] = p
                powers[j] = (np.int32(k) + np.int32(127)) << np.int32(23)
            for j in range(n):
                out[r, j] = ONE_SINGLE / (ONE_SINGLE + out[r, j] * scales[j])
        else:
            for j in range(n):
                out[r, j] = sigmoid(np.float64(sums[r, j] * scale + bias[j]))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _softmax_probabilities(sums, scale, bias, q, out):
    """Per-site softmax of the logits sums scale + bias (rows, sites q), in out's dtype: the
    largest logit subtracted, the portable exp, the sum over the q categories in order."""
    rows, units = sums.shape
    total = np.empty(1, out.dtype)
    for r in range(rows):
        for j in range(units):
            out[r, j] = sums[r, j] * scale + bias[j]
        for base in range(0, units, q):
            top = out[r, base]
            for a in range(1, q):
                top = max(top, out[r, base + a])
            total[0] = 0.0
            for a in range(q):
                if out.itemsize == 4:
                    out[r, base + a] = exp_single(np.float32(out[r, base + a] - top))
                else:
                    out[r, base + a] = exp_double(np.float64(out[r, base + a] - top))
                total[0] += out[r, base + a]
            for a in range(q):
                out[r, base + a] = out[r, base + a] / total[0]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _bernoulli_layer(sums, scale, bias, probs, sample, ids, step, first_block, c3, k0, k1, states, native):
    """probs = the sigmoid of sums scale + bias and, with ``sample``, states drawn from them (the
    streams of rows ``ids``, :func:`sample_bernoulli_rows`): in one vectorised C pass for float32
    arrays where ``native`` (int8_products.bernoulli_layer), else these kernels; the same bits."""
    if native and probs.itemsize == 4:
        int8_products.bernoulli_layer(sums, scale, bias, probs, sample, ids, step, first_block, c3, k0, k1, states)
        return
    _probabilities(sums, scale, bias, probs)
    if sample:
        sample_bernoulli_rows(probs, ids, step, first_block, c3, k0, k1, states)


@numba.njit(cache=True, nogil=True)
def _hidden_sums(x, Wq, packed, nh, digits, int8):
    """x Wq.T (rows, Nh) for x (rows, units) of 0/1 values: BLAS, or AMX int8 products of
    ``packed`` (int8_products.pack_weights); the same exact integers."""
    if int8:
        return int8_products.weight_products(x, packed, nh, x.shape[1], digits, True)
    return np.dot(x, Wq.T)


@numba.njit(cache=True, nogil=True)
def update_buffers(rows, chains, W, int8):
    """Aligned scratch of updates with at most ``rows`` data rows and ``chains`` negative-phase
    chains (made once, not per update: a fresh 100-kB allocation costs its page faults): the rows
    [v0; negative phase] (rows + chains, units) and the hidden probabilities (rows + chains, Nh) in
    W's dtype, and the packed product copy of W (int8; empty without ``int8``)."""
    nh, units = W.shape
    n = rows + chains
    return (int8_products.aligned_empty(n * units, W.dtype).reshape((n, units)),
            int8_products.aligned_empty(n * nh, W.dtype).reshape((n, nh)),
            int8_products.aligned_empty(int8_products.packed_bytes(nh, units) if int8 else 0, np.int8))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def gradient_sums(data, local_rows, chains, persistent, ids, gibbs_steps, W, b, c, q, update, stride, c3, k0,
                  k1, rows_total, grad, negative, int8=False):
    """This rank's exact gradient sums of one CD-k / PCD-k update, in one call.

    data (n_local, units), W (Nh, units), b (units,), c (Nh,): the parameters' dtype, in which
    the products are computed; local_rows: this rank's rows of the batch (indices into data);
    chains (m, units): the negative phase's starting states with ``persistent``, else the data
    rows (m = len(local_rows)); ids (m,): their chain ids (the RBM_GIBBS streams, training.py);
    rows_total: rows of the whole batch over all ranks (positive + negative). Writes grad
    (float64, or float32 for float32 parameters: integers below 2**24 either way; [W (scale 2**t),
    b, c (scale 2**t)]: sum over this rank's rows of p(h|v0) v0 -
    p(h|vk) vk, v0 - vk, p(h|v0) - p(h|vk)) and negative (m, units) = vk (not written when given with no
    rows: a CD training has no use for vk). Returns (s, t), the
    grids of the weights and of the probabilities; s < WEIGHT_GRID_FLOOR: nothing computed."""
    buffers = update_buffers(len(local_rows), len(ids), W, int8 and W.itemsize == 4)
    return gradient_sums_in(buffers, data, local_rows, chains, persistent, ids, gibbs_steps, W, b, c, q, update,
                            stride, c3, k0, k1, rows_total, grad, negative, int8)


@numba.njit(cache=True, nogil=True)
def c_update(data, W, q, int8):
    """Whether the update runs as one C call (int8_products.bernoulli_update): the int8 products of
    float32 parameters, Bernoulli visibles and float32 data rows of unit stride."""
    return int8 and not q and W.itemsize == 4 and data.itemsize == 4 and data.strides[1] == 4


@numba.njit(cache=True, nogil=True, error_model="numpy")
def gradient_sums_in(buffers, data, local_rows, chains, persistent, ids, gibbs_steps, W, b, c, q, update, stride,
                     c3, k0, k1, rows_total, grad, negative, int8):
    """:func:`gradient_sums` in ``buffers`` (:func:`update_buffers` of at least these rows and chains)."""
    nh, units = W.shape
    n0, m = len(local_rows), len(ids)
    mantissa = 24 if W.itemsize == 4 else 53
    largest = _largest_single(W) if W.itemsize == 4 else _largest_double(W)
    s = grid_exponent(largest, max(nh, units), mantissa)
    t = grid_exponent(1.0, rows_total, mantissa)
    if s < WEIGHT_GRID_FLOOR:
        return s, t
    scale = np.empty(2, W.dtype)  # 2**s, 2**-s in the parameters' dtype (exact)
    scale[0] = math.ldexp(1.0, s)
    scale[1] = math.ldexp(1.0, -s)
    digits = int8_products.digits_needed(np.rint(math.ldexp(largest, s)))
    rows, probabilities, packed = buffers[0][:n0 + m], buffers[1], buffers[2]  # rows: [v0; negative phase]
    if c_update(data, W, q, int8):  # the whole update in one C call (its team gathers the rows), the same bits
        direct = len(negative) > 0 and negative.flags.c_contiguous  # v_k straight into ``negative``
        vk = negative if direct else rows[n0:]
        starts = chains if chains.flags.c_contiguous else np.ascontiguousarray(chains)
        int8_products.bernoulli_update(data, local_rows, rows[:n0], starts, vk, W, scale[0], digits, packed,
                                       persistent, b, c, ids, gibbs_steps, update, stride, c3, k0, k1,
                                       math.ldexp(1.0, t), probabilities[:n0], probabilities[n0:n0 + m], grad)
        if len(negative) and not direct:
            negative[:] = vk
        return s, t
    int8 = int8 and W.itemsize == 4  # float64 operands need up to 7 digits: BLAS
    for r in range(n0):
        rows[r] = data[local_rows[r]]
    if persistent:
        rows[n0:] = chains
    if int8:  # the product copy rint(W 2**s) made and packed in one pass
        Wq, packed = np.empty((0, units), W.dtype), int8_products.pack_weights(W, scale[0], digits)
    else:
        Wq, packed = np.empty((nh, units), W.dtype), np.empty(0, np.int8)
        for j in range(nh):
            for i in range(units):
                Wq[j, i] = np.rint(W[j, i] * scale[0])
    sums = _hidden_sums(rows if persistent else rows[:n0], Wq, packed, nh, digits, int8)
    p_all = np.empty((len(sums), nh), W.dtype)
    ph0 = p_all[:n0]
    h = np.empty((m, nh), W.dtype)
    pv = np.empty((m, units), W.dtype)
    vk = rows[n0:]
    v = vk if persistent else rows[:n0]
    for g in range(gibbs_steps):
        first_block = 2 * g * stride // 4
        if g > 0:
            _bernoulli_layer(_hidden_sums(v, Wq, packed, nh, digits, int8), scale[1], c, np.empty((m, nh), W.dtype),
                             True, ids, update, first_block, c3, k0, k1, h, int8)
        elif persistent:  # p(h|v0) for the gradient, h drawn from the chains' p(h|v)
            _bernoulli_layer(sums[:n0], scale[1], c, ph0, False, ids, update, 0, c3, k0, k1, h, int8)
            _bernoulli_layer(sums[n0:], scale[1], c, p_all[n0:], True, ids, update, 0, c3, k0, k1, h, int8)
        else:
            _bernoulli_layer(sums, scale[1], c, ph0, True, ids, update, 0, c3, k0, k1, h, int8)
        visible_sums = int8_products.weight_products(h, packed, nh, units, digits, False) if int8 else np.dot(h, Wq)
        if q:
            _softmax_probabilities(visible_sums, scale[1], b, q, pv)
            sample_categorical_rows(pv, q, ids, update, (2 * g + 1) * stride // 4, c3, k0, k1, vk)
        else:
            _bernoulli_layer(visible_sums, scale[1], b, pv, True, ids, update, (2 * g + 1) * stride // 4, c3, k0, k1,
                             vk, int8)
        v = vk
    phk = np.empty((m, nh), W.dtype)
    _bernoulli_layer(_hidden_sums(vk, Wq, packed, nh, digits, int8), scale[1], c, phk, False, ids, update, 0, c3, k0,
                     k1, h, int8)
    # [p(h|v0); -p(h|vk)] on the grid 2**-t, transposed (Nh, rows): its row sums (c) and its
    # product with [v0; vk] (W); b from the rows alone
    step = math.ldexp(1.0, t)
    if int8:
        int8_products.gradient_sums(ph0, phk, step, rows, grad)
    else:
        nW, nb = nh * units, units
        signed = np.empty((nh, n0 + m), W.dtype)
        for j in range(nh):
            total = 0.0
            for r in range(n0):
                signed[j, r] = np.rint(np.float64(ph0[r, j]) * step)
                total += signed[j, r]
            for r in range(m):
                signed[j, n0 + r] = -np.rint(np.float64(phk[r, j]) * step)
                total += signed[j, n0 + r]
            grad[nW + nb + j] = total
        products = np.dot(signed, rows)
        for j in range(nh):
            for i in range(units):
                grad[j * units + i] = products[j, i]
        phase_difference(rows, n0, grad[nW:nW + nb])
    if len(negative):
        negative[:] = vk
    return s, t


@numba.njit(cache=True, nogil=True, error_model="numpy")
def epoch_updates(data, first, order, batches, batch_size, persistent, chains, chain_ids, gibbs_steps, W, b, flat_W,
                  flat_b, flat_c, velocity_W, velocity_b, velocity_c, first_update, stride, c3, k0, k1, grad_slots,
                  negative, int8, bases, rank, first_call, total, learning_rate, momentum, decay, biases,
                  probability_scale):
    """The updates of one epoch with Bernoulli visibles, in one call: per batch (rows
    ``order[i batch_size:(i + 1) batch_size]``, update ``first_update + i``) :func:`gradient_sums`
    of this rank's rows, the sum over ranks and :func:`sgd_step`: the bits of training.Trainer.update
    called batch by batch, without Python between the updates. On one rank with the C update
    (:func:`c_update`, PCD chains C-contiguous) the whole epoch is one C call and one OpenMP team
    (int8_products.bernoulli_epoch: each update's SGD step in it, the same bits).

    data (n_local, units): this rank's rows, global rows ``first`` on; chains, chain_ids: this
    rank's PCD chains (updated in place) and their ids; negative (batch_size, units): scratch for the
    negative phase's states; grad_slots (1, n): the gradient on one
    rank (``bases`` empty), else this rank's two slots of the node sum of ``bases`` (the
    addresses of node_sum.NodeSum's regions), which sums call ``first_call + i`` into ``total``.
    Returns (updates made, the coarsest weight grid s of theirs): an s below WEIGHT_GRID_FLOOR stops
    the epoch before that update's sum and step (on every rank: the same W gives the same s)."""
    ranks, n_local = len(bases), len(data)
    rows_total, single = 2 * batch_size, np.int32(total.itemsize == 4)
    grid = GRID_CAP
    buffers = update_buffers(batch_size, len(chain_ids) if persistent else batch_size, W, int8)
    if ranks <= 1 and first == 0 and c_update(data, W, 0, int8) and chains.flags.c_contiguous:
        # one rank's epoch in one C call and one team: each update's SGD step in it, the chains
        # stepped in place, the next grid from the step's largest |W| (the same bits)
        factor = learning_rate / batch_size
        settings = np.array([factor / probability_scale, factor, momentum, learning_rate * decay,
                             1.0 if biases else 0.0])
        m = len(chain_ids) if persistent else batch_size
        rows, probabilities, packed = buffers
        made, grid = int8_products.bernoulli_epoch(
            data, order, batches, batch_size, persistent, chain_ids, chains, rows[:batch_size], rows[batch_size:],
            W, b, flat_c, (velocity_W, velocity_b, velocity_c), settings, gibbs_steps, first_update, stride, c3, k0,
            k1, probabilities[:batch_size], probabilities[batch_size:batch_size + m], packed,
            math.ldexp(1.0, grid_exponent(1.0, rows_total, 24)), grad_slots[0], _largest_single(W),
            WEIGHT_GRID_FLOOR)
        return made, min(grid, GRID_CAP)
    for i in range(batches):
        batch = order[i * batch_size:(i + 1) * batch_size]
        mine = batch[(batch >= first) & (batch < first + n_local)]  # global indices: the CD chains' ids
        ids = chain_ids if persistent else mine
        grad = grad_slots[(first_call + i) & 1] if ranks > 1 else grad_slots[0]
        vk = negative[:len(ids) if persistent else 0]  # a CD update's v_k is not kept
        s, t = gradient_sums_in(buffers, data, mine - first, chains, persistent, ids, gibbs_steps, W, b, flat_c, 0,
                                first_update + i, stride, c3, k0, k1, rows_total, grad, vk, int8)
        if s < WEIGHT_GRID_FLOOR:
            return i, grid
        grid = min(grid, s)
        if ranks > 1:
            node_sum.arrive(bases.ctypes.data, np.int32(ranks), np.int32(rank), len(total), single, first_call + i)
            node_sum.add(bases.ctypes.data, np.int32(ranks), len(total), single, first_call + i, total.ctypes.data)
            grad = total
        if persistent:
            chains[:] = vk
        sgd_step(grad, flat_W, flat_b, flat_c, velocity_W, velocity_b, velocity_c, batch_size, learning_rate,
                 momentum, decay, biases, probability_scale)
    return batches, grid
