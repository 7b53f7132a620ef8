"""Uniform floats in (0, 1) from the Philox streams, for RBM sampling and flows.

Row i of ``out`` (one chain or sample) holds, at column u, word ``offset + u`` (offset a
multiple of 4) of the stream
(counter ((offset + u) // 4, step, ids[i], c3)), mapped to ((word >> 8) + 0.5) * 2**-24,
never 0 or 1: exact in float64; float32 rounds the values above 0.5 to 2**-24 (docs/rng.md).
With a ``runner`` (backend/cuda.py) the same numbers are made on its device (uniform.cu).
"""
import numba
import numpy as np

from .. import use_kernel_cache
from .philox import fill_words, philox_key, seed_key

use_kernel_cache()  # before any cache=True function

SCALE = 2.0**-24


@numba.njit(cache=True, nogil=True)
def _fill_uniforms(out, ids, step, c3, k0, k1, first_block):
    n, m = out.shape
    words = np.empty(((m + 3) // 4) * 4, dtype=np.uint32)
    kk0, kk1, cc3 = np.uint64(k0), np.uint64(k1), np.uint64(c3)
    for i in range(n):
        fill_words(words, first_block, m, step, ids[i], cc3, kk0, kk1)
        for u in range(m):
            out[i, u] = ((words[u] >> np.uint32(8)) + 0.5) * SCALE


@numba.njit(cache=True, nogil=True)
def _first_words(n, step, replica, c3, k0, k1):
    words = np.empty(((n + 3) // 4) * 4, dtype=np.uint32)
    fill_words(words, 0, n, step, replica, np.uint64(c3), np.uint64(k0), np.uint64(k1))
    return words[:n]


def stream_words(n, seed, point, replica, step, purpose):
    """Words 0 .. n - 1 of one stream as uint32 (n,): streams.counter_words(seed, point,
    replica, step, np.arange(n), purpose), one Philox block per four words."""
    k0, k1 = seed_key(seed)
    return _first_words(int(n), int(step), int(replica), int(point) * 256 + int(purpose), k0, k1)


def stream_order(n, seed, point, replica, step, purpose):
    """The permutation argsort(:func:`stream_words`, kind="stable") of 0 .. n - 1 (int64, (n,)):
    by word, ties by index. Computed as the sort of the keys word 2**32 + index, all distinct, so
    any sort gives it (NumPy's vectorised sort of uint64: 84 instead of 608 us at n = 12000)."""
    if n >= 2**32:
        raise ValueError("stream_order: n must be below 2**32")
    keys = stream_words(n, seed, point, replica, step, purpose).astype(np.uint64) << np.uint64(32)
    keys |= np.arange(n, dtype=np.uint64)
    return (np.sort(keys) & np.uint64(0xFFFFFFFF)).astype(np.int64)


def stride(*widths):
    """Word offset between the parts of one chain's draws at a step: the widest part, rounded
    up to a multiple of 4 (``uniforms``' ``offset``)."""
    return ((max(widths) + 3) // 4) * 4


def normals(u, scale=1.0):
    """Box-Muller normals, (rows, cols), from uniforms ``u`` (rows, 2 cols):
    scale sqrt(-2 log u[:, 0::2]) cos(2 pi u[:, 1::2])."""
    return scale * np.sqrt(-2 * np.log(u[:, 0::2])) * np.cos(2 * np.pi * u[:, 1::2])


def uniforms(shape, dtype, seed, ids, step, point, purpose, offset=0, runner=None):
    """float array ``shape`` = (len(ids), m) of uniforms; see the module docstring. With a
    ``runner``: an array of ``runner.xp`` made on its device (ids may be a device array)."""
    if offset % 4:
        raise ValueError("offset must be a multiple of 4")
    return stream_uniforms(shape, dtype, seed, ids, step, int(point) * 256 + int(purpose), int(offset) // 4, runner)


def stream_uniforms(shape, dtype, seed, ids, step, c3, first_block, runner=None):
    """:func:`uniforms` by counter word 3 (``c3`` = point * 256 + purpose) and first Philox block."""
    if runner is not None:
        return _device_uniforms(runner, shape, np.dtype(dtype), seed, ids, int(step), int(c3), int(first_block))
    out = np.empty(shape, dtype=dtype)
    k0, k1 = seed_key(seed)
    _fill_uniforms(out, np.asarray(ids, dtype=np.int64), int(step), int(c3), k0, k1, int(first_block))
    return out


def _device_uniforms(runner, shape, dtype, seed, ids, step, c3, first_block, threads=256):
    xp = runner.xp
    rows, cols = shape
    out = xp.empty(shape, dtype=dtype)
    if rows and cols:
        name = {np.float32: "stream_uniforms_f32", np.float64: "stream_uniforms_f64"}[dtype.type]
        ids = xp.ascontiguousarray(xp.asarray(ids, dtype=np.int64))
        runner.launch(name, (-(-rows * ((cols + 3) // 4) // threads),), threads,
                      (out, ids, np.int32(rows), np.int32(cols), np.uint32(step), np.uint32(c3),
                       np.uint32(first_block), philox_key(seed)))
    return out
