"""The kernels of one RBM training update (kernels_cpu.py) as array expressions, for any array
module: NumPy (then they are the numba kernels' twins, bit for bit) or CuPy on a GPU, where the
products are cuBLAS dgemm of the same integer-valued float64 operands (exact, so the same sums)
and the uniforms come from the same Philox streams made on the device (rng/uniform.cu through a
runner, backend/cuda.py).

Each method has the numba kernel's name, arguments and in-place outputs, and its operations and
roundings: sums and fixed-point conversions in float64 rounded once to the output's dtype, the
SGD step with NumPy's in-place typing, the sigmoid from basic operations (:func:`sigmoid`), so a
training gives the same bits on the CPU and on a GPU.
"""
import numpy as np

from ...backend import array_module
from ...rng.uniform import stream_uniforms
from ..model import sample_categorical
from .training_cpu import (
    EXP_CLAMP,
    EXP_CLAMP_SINGLE,
    EXP_TERMS,
    EXP_TERMS_SINGLE,
    FIXED_POINT,
    INV_LN2,
    INV_LN2_SINGLE,
    LN2_HI,
    LN2_HI_SINGLE,
    LN2_LO,
    LN2_LO_SINGLE,
    POWERS_OF_TWO,
    TOP_POWER,
    WEIGHT_GRID_FLOOR,
    grid_exponent,
    mantissa_bits,
)


def fixed_point(x):
    """x (values of magnitude < 2**20) as integer-valued float64 multiples of 2**-32, in the
    array module of ``x`` (NumPy for lists)."""
    xp = array_module(x)
    return xp.rint(xp.asarray(x, np.float64) * FIXED_POINT)


_TABLES = {}  # (array module name, dtype) -> POWERS_OF_TWO as its array (copied to a device once)


def _powers_of_two(xp, dtype):
    key = xp.__name__, np.dtype(dtype).name
    if key not in _TABLES:
        _TABLES[key] = xp.asarray(POWERS_OF_TWO.astype(dtype))
    return _TABLES[key]


def exp_double(xp, t):
    """training_cpu.exp_double of the float64 array ``t`` with the array module ``xp``: the same
    operations, one array pass each (no fused multiply-add anywhere), so the same bits."""
    t = xp.clip(t, -EXP_CLAMP, EXP_CLAMP)
    k = xp.rint(t * INV_LN2)
    r = (t - k * LN2_HI) - k * LN2_LO
    p = xp.full_like(r, EXP_TERMS[-1])
    for n in range(len(EXP_TERMS) - 2, -1, -1):
        p *= r
        p += EXP_TERMS[n]
    return p * _powers_of_two(xp, np.float64)[k.astype(xp.int64) + TOP_POWER]


def exp_single(xp, t):
    """training_cpu.exp_single of the float32 array ``t`` (float32 operations only)."""
    t = xp.clip(t, -EXP_CLAMP_SINGLE, EXP_CLAMP_SINGLE)
    k = xp.rint(t * INV_LN2_SINGLE)
    r = (t - k * LN2_HI_SINGLE) - k * LN2_LO_SINGLE
    p = EXP_TERMS_SINGLE[7] * r + EXP_TERMS_SINGLE[6]
    for n in range(5, -1, -1):
        p *= r
        p += EXP_TERMS_SINGLE[n]
    return p * _powers_of_two(xp, np.float32)[k.astype(xp.int64) + TOP_POWER]


def portable_exp(xp, t):
    """exp_single (float32 ``t``) or exp_double (float64 ``t``)."""
    return exp_single(xp, t) if t.dtype == np.float32 else exp_double(xp, t)


def sigmoid(xp, x):
    """training_cpu's sigmoid of the float32 or float64 array ``x``: 1 / (1 + exp(-x)) with
    :func:`portable_exp`, in x's dtype."""
    one = x.dtype.type(1.0)
    return one / (one + portable_exp(xp, -x))


def softmax(xp, logits, q):
    """training_cpu._softmax_probabilities: per-site softmax of logits (rows, sites q), the largest
    subtracted, the portable exp, the q terms summed in order."""
    x = logits.reshape(len(logits), -1, q)
    e = portable_exp(xp, x - x.max(axis=2, keepdims=True))
    total = e[:, :, 0].copy()
    for a in range(1, q):
        total += e[:, :, a]
    return (e / total[:, :, None]).reshape(logits.shape)


class ArrayKernels:
    """kernels_cpu's functions for arrays of ``runner.xp`` (``runner`` None: NumPy, uniforms from
    the numba streams)."""

    def __init__(self, runner=None):
        self.runner = runner
        self.xp = np if runner is None else runner.xp

    def quantised_weights(self, W):
        xp = self.xp
        Wq = fixed_point(W)
        largest = (float(xp.abs(Wq).max()) if Wq.size else 0.0) * max(W.shape)
        if largest < 2.0**53:
            return Wq, largest
        magnitude = xp.abs(Wq)  # the sums themselves (only compared with 2**53)
        return Wq, max(float(magnitude.sum(axis=1).max()), float(magnitude.sum(axis=0).max()))

    def scaled_inputs(self, sums, bias, out):
        out[...] = sums * (1.0 / FIXED_POINT) + bias.astype(self.xp.float64)

    def phase_difference(self, rows, n_positive, out):
        out[...] = rows[:n_positive].sum(axis=0) - rows[n_positive:].sum(axis=0)

    def _uniforms(self, shape, dtype, ids, step, first_block, c3, k0, k1):
        return stream_uniforms(shape, dtype, int(k0) | int(k1) << 32, ids, step, c3, first_block, self.runner)

    def sample_bernoulli_rows(self, probs, ids, step, first_block, c3, k0, k1, out):
        out[...] = self._uniforms(probs.shape, probs.dtype, ids, step, first_block, c3, k0, k1) < probs

    def sample_categorical_rows(self, probs, q, ids, step, first_block, c3, k0, k1, out):
        u = self._uniforms((len(probs), probs.shape[1] // q), probs.dtype, ids, step, first_block, c3, k0, k1)
        out[...] = sample_categorical(self.xp, probs, u, q)

    def _sgd(self, param, velocity, grad, factor, momentum, decay):
        step = grad * factor
        if momentum != 0.0:
            velocity *= velocity.dtype.type(momentum)
            velocity[...] = velocity.astype(self.xp.float64) + step
        else:
            velocity[...] = step
        if decay != 0.0:
            velocity -= velocity.dtype.type(decay) * param
        param += velocity

    def sgd_step(self, grad, W, b, c, vW, vb, vc, batch_size, learning_rate, momentum, decay, biases, scale):
        nW, nb = W.size, b.size
        factor = learning_rate / batch_size
        self._sgd(W, vW, grad[:nW], factor / scale, momentum, learning_rate * decay)
        if biases:
            self._sgd(b, vb, grad[nW:nW + nb], factor, momentum, 0.0)
            self._sgd(c, vc, grad[nW + nb:], factor / scale, momentum, 0.0)

    def gradient_sums(self, data, local_rows, chains, persistent, ids, gibbs_steps, W, b, c, q, update, stride, c3,
                      k0, k1, rows_total, grad, negative, int8=False):
        """training_cpu.gradient_sums with array expressions (the same operations and roundings;
        the products are the array module's, ``int8`` is ignored)."""
        xp, dtype = self.xp, W.dtype
        nh, units = W.shape
        mantissa = mantissa_bits(dtype)
        largest = float(xp.abs(W).max()) if W.size else 0.0
        s = int(grid_exponent(largest, max(nh, units), mantissa))
        t = int(grid_exponent(1.0, rows_total, mantissa))
        if s < WEIGHT_GRID_FLOOR:
            return s, t
        Wq = xp.rint(W * dtype.type(2.0**s))
        down = dtype.type(2.0**-s)
        v0 = data[xp.asarray(local_rows)]
        n0 = len(v0)
        rows = xp.concatenate([v0, chains if persistent else v0])
        p_all = sigmoid(xp, (rows if persistent else v0) @ Wq.T * down + c)
        ph0, ph = p_all[:n0], p_all[n0:] if persistent else p_all
        v = rows[n0:]
        for g in range(gibbs_steps):
            if g > 0:
                ph = sigmoid(xp, v @ Wq.T * down + c)
            h = xp.empty_like(ph)
            self.sample_bernoulli_rows(ph, ids, update, 2 * g * stride // 4, c3, k0, k1, h)
            logits = h @ Wq * down + b
            v = xp.empty((len(h), units), dtype)
            part = (2 * g + 1) * stride // 4
            if q:
                self.sample_categorical_rows(softmax(xp, logits, q), q, ids, update, part, c3, k0, k1, v)
            else:
                self.sample_bernoulli_rows(sigmoid(xp, logits), ids, update, part, c3, k0, k1, v)
        rows[n0:] = v
        phk = sigmoid(xp, v @ Wq.T * down + c)
        step = 2.0**t
        signed = xp.concatenate([xp.rint(ph0.astype(xp.float64) * step), -xp.rint(phk.astype(xp.float64) * step)])
        nW, nb = nh * units, units
        grad[nW + nb:] = signed.sum(axis=0)
        grad[:nW] = (signed.astype(dtype).T @ rows).reshape(-1)
        self.phase_difference(rows, n0, grad[nW:nW + nb])
        if len(negative):  # none given: v_k not kept (CD)
            negative[...] = v
        return s, t
