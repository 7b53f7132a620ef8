"""The stream layout: which Philox counter produces which random word.

A random word for work item (grid point ``p``, replica ``r``) at step ``t`` and index ``k``
(a site, a pair, ...) for a given purpose is word ``k % 4`` of

    Philox4x32-10(counter = (k // 4, t, r, p * 256 + purpose), key = seed_key(seed))

``p`` is the flat index ``iT * nH + iH`` of the (T, H) point in the whole grid, never a
rank-local index, so results do not depend on how the grid is split over ranks. ``t`` is
the half-sweep counter for Monte Carlo updates (sweep * n_colours + colour), 0 for the
initial state. The layout is documented in docs/rng.md; the CUDA kernels use the same.
"""
import enum

import numpy as np

from .philox import philox4x32_numpy, seed_key

MAX_POINTS = 2**24  # p * 256 + purpose must fit in 32 bits


class Purpose(enum.IntEnum):
    """The last byte of counter word 3: what the random words are used for."""

    INITIAL_STATE = 0
    METROPOLIS = 1
    TEMPERING = 2
    CLUSTER = 3
    METROPOLIS_TIE = 4  # low 24 bits of an Ising acceptance number whose top byte tied (docs/rng.md)
    TRAINING = 16
    FLOW = 32
    BLOCK_SPIN = 48


def counter_words(seed, point, replica, step, index, purpose):
    """Random uint32 words for broadcastable ``index`` arrays (NumPy reference form)."""
    k0, k1 = seed_key(seed)
    index = np.asarray(index, dtype=np.uint64)
    c3 = np.uint64(int(point) * 256 + int(purpose))
    words = philox4x32_numpy(index >> np.uint64(2), np.uint64(step), np.uint64(replica), c3, k0, k1)
    stacked = np.stack(words, axis=-1)
    return np.take_along_axis(stacked, (index & np.uint64(3)).astype(np.intp)[..., None], axis=-1)[..., 0]
