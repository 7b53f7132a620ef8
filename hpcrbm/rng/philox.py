"""Philox4x32-10 (Salmon et al., SC11), in a NumPy form and a numba form.

Both take a 128-bit counter (c0, c1, c2, c3) and a 64-bit key (k0, k1), all uint32, and
return four uint32 words. They agree bit for bit with Random123's known-answer vectors
(tests/rng/test_philox.py) and with the CUDA twin (philox.cu) used by the GPU kernels.
"""
import numba
import numpy as np

from .. import use_kernel_cache

use_kernel_cache()  # before any cache=True function

PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
ROUNDS = 10
_MASK = 0xFFFFFFFF


def seed_key(seed: int) -> tuple[int, int]:
    """Split a non-negative seed (< 2**64) into the Philox key words (k0, k1)."""
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError("seed must be in [0, 2**64)")
    return seed & _MASK, (seed >> 32) & _MASK


def philox4x32_numpy(c0, c1, c2, c3, k0, k1):
    """Vectorised Philox4x32-10: broadcastable uint32 inputs -> tuple of 4 uint32 arrays."""
    u64 = np.uint64
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    k0 = np.asarray(k0, dtype=np.uint64)
    k1 = np.asarray(k1, dtype=np.uint64)
    mask = u64(_MASK)
    for r in range(ROUNDS):
        p0 = u64(PHILOX_M0) * c0
        p1 = u64(PHILOX_M1) * c2
        c0, c1, c2, c3 = ((p1 >> u64(32)) ^ c1 ^ k0, p1 & mask,
                          (p0 >> u64(32)) ^ c3 ^ k1, p0 & mask)
        if r < ROUNDS - 1:
            k0 = (k0 + u64(PHILOX_W0)) & mask
            k1 = (k1 + u64(PHILOX_W1)) & mask
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


@numba.njit(inline="always", cache=True)
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Scalar Philox4x32-10 for numba kernels; arguments and results are uint64 < 2**32."""
    mask = np.uint64(_MASK)
    m0 = np.uint64(PHILOX_M0)
    m1 = np.uint64(PHILOX_M1)
    w0 = np.uint64(PHILOX_W0)
    w1 = np.uint64(PHILOX_W1)
    s32 = np.uint64(32)
    for _ in range(ROUNDS):
        p0 = m0 * c0
        p1 = m1 * c2
        n0 = (p1 >> s32) ^ c1 ^ k0
        n2 = (p0 >> s32) ^ c3 ^ k1
        c1 = p1 & mask
        c3 = p0 & mask
        c0 = n0
        c2 = n2
        k0 = (k0 + w0) & mask
        k1 = (k1 + w1) & mask
    return c0, c1, c2, c3


@numba.njit(inline="always", cache=True)
def philox4x32_lanes(c0, c1, c2, c3, k0, k1):
    """:func:`philox4x32` (same words) written for loops that LLVM vectorises across lanes: every
    multiplicand and every new word is masked to 32 bits, so the 32 x 32 -> 64-bit products
    become ``vpmuludq`` rather than full 64-bit multiplies."""
    mask = np.uint64(_MASK)
    s32 = np.uint64(32)
    for _ in range(ROUNDS):
        p0 = np.uint64(PHILOX_M0) * (c0 & mask)
        p1 = np.uint64(PHILOX_M1) * (c2 & mask)
        n0 = ((p1 >> s32) ^ c1 ^ k0) & mask
        n2 = ((p0 >> s32) ^ c3 ^ k1) & mask
        c1 = p1 & mask
        c3 = p0 & mask
        c0 = n0
        c2 = n2
        k0 = (k0 + np.uint64(PHILOX_W0)) & mask
        k1 = (k1 + np.uint64(PHILOX_W1)) & mask
    return c0, c1, c2, c3


@numba.njit(inline="always", cache=True)
def fill_words(buf, first_block, n_words, step, replica, c3, k0, k1):
    """buf[k] = word k % 4 of Philox((first_block + k // 4, step, replica, c3)), k < n_words (rounded up)."""
    st = np.uint64(step)
    rp = np.uint64(replica)
    fb = np.uint64(first_block)
    for b in range((n_words + 3) // 4):
        w0, w1, w2, w3 = philox4x32(fb + np.uint64(b), st, rp, c3, k0, k1)
        buf[4 * b] = np.uint32(w0)
        buf[4 * b + 1] = np.uint32(w1)
        buf[4 * b + 2] = np.uint32(w2)
        buf[4 * b + 3] = np.uint32(w3)


PHILOX_KEY = np.dtype({"names": ["k0", "k1"], "formats": [(np.uint32, ROUNDS), (np.uint32, ROUNDS)]})


def philox_key(seed):
    """The kernels' PhiloxKey argument (philox.cu): the key schedule of ``seed``, round r holding
    (k0 + r W0, k1 + r W1) mod 2**32, as a one-element structured array (passed by value)."""
    rounds = np.arange(ROUNDS, dtype=np.uint64)
    schedule = [(np.uint64(k) + rounds * np.uint64(w)) & np.uint64(0xFFFFFFFF)
                for k, w in zip(seed_key(seed), (PHILOX_W0, PHILOX_W1))]
    return np.concatenate(schedule).astype(np.uint32).view(PHILOX_KEY)
