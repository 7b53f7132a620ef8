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
    EXP_TERMS,
    FIXED_POINT,
    INV_LN2,
    LN2_HI,
    LN2_LO,
    POWERS_OF_TWO,
    SINGLE_TERMS,
    TOP_POWER,
)


def fixed_point(x):
    """x (values of magnitude < 2**20) as integer-valued float64 multiples of 2**-32, in the
    array module of ``x`` (NumPy for lists)."""
    xp = array_module(x)
    return xp.rint(xp.asarray(x, np.float64) * FIXED_POINT)


_TABLES = {}  # array module name -> POWERS_OF_TWO as its array (copied to a device once)


def _powers_of_two(xp):
    if xp.__name__ not in _TABLES:
        _TABLES[xp.__name__] = xp.asarray(POWERS_OF_TWO)
    return _TABLES[xp.__name__]


def sigmoid(xp, x, terms=None):
    """training_cpu.sigmoid (``terms`` = SINGLE_TERMS: sigmoid_single) of the float64 array ``x``
    with the array module ``xp``: the same operations, one array pass each (no fused
    multiply-add anywhere), so the same bits."""
    terms = terms or len(EXP_TERMS)
    t = xp.clip(-x, -EXP_CLAMP, EXP_CLAMP)
    k = xp.rint(t * INV_LN2)
    r = (t - k * LN2_HI) - k * LN2_LO
    p = xp.full_like(r, EXP_TERMS[terms - 1])
    for n in range(terms - 2, -1, -1):
        p *= r
        p += EXP_TERMS[n]
    return 1.0 / (1.0 + p * _powers_of_two(xp)[k.astype(xp.int64) + TOP_POWER])


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

    def sigmoid_inputs(self, sums, bias, out):
        self.scaled_inputs(sums, bias, out)
        terms = SINGLE_TERMS if out.dtype == self.xp.float32 else len(EXP_TERMS)
        out[...] = sigmoid(self.xp, out.astype(self.xp.float64), terms)

    def gather_rows(self, data, index, out):
        out[...] = data[self.xp.asarray(index)]

    def signed_fixed_point(self, positive, negative, out, sums):
        rows = len(positive)
        out[:rows] = fixed_point(positive)
        out[rows:] = -fixed_point(negative)
        sums[...] = out.sum(axis=0)

    def phase_difference(self, rows, n_positive, out):
        out[...] = rows[:n_positive].sum(axis=0) - rows[n_positive:].sum(axis=0)

    def _uniforms(self, shape, dtype, ids, step, first_block, c3, k0, k1):
        return stream_uniforms(shape, dtype, int(k0) | int(k1) << 32, ids, step, c3, first_block, self.runner)

    def sample_bernoulli_rows(self, probs, ids, step, first_block, c3, k0, k1, out):
        out[...] = self._uniforms(probs.shape, probs.dtype, ids, step, first_block, c3, k0, k1) < probs

    def sample_categorical_rows(self, probs, q, ids, step, first_block, c3, k0, k1, out):
        u = self._uniforms((len(probs), probs.shape[1] // q), probs.dtype, ids, step, first_block, c3, k0, k1)
        out[...] = sample_categorical(self.xp, probs, u, q)

    def _sgd(self, param, velocity, grad, scale, batch_size, learning_rate, momentum, decay):
        step = learning_rate * (grad / scale / batch_size)
        if momentum != 0.0:
            velocity *= velocity.dtype.type(momentum)
            velocity[...] = velocity.astype(self.xp.float64) + step
        else:
            velocity[...] = step
        if decay != 0.0:
            velocity -= velocity.dtype.type(learning_rate * decay) * param
        param += velocity

    def sgd_step(self, grad, W, b, c, vW, vb, vc, batch_size, learning_rate, momentum, decay, biases):
        nW, nb = W.size, b.size
        self._sgd(W, vW, grad[:nW], FIXED_POINT, batch_size, learning_rate, momentum, decay)
        if biases:
            self._sgd(b, vb, grad[nW:nW + nb], 1.0, batch_size, learning_rate, momentum, 0.0)
            self._sgd(c, vc, grad[nW + nb:], FIXED_POINT, batch_size, learning_rate, momentum, 0.0)
