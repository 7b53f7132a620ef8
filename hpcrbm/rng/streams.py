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

GRID_POINTS = 2**22  # grid points p = iT * nH + iH lie in [0, GRID_POINTS)
SYNTHETIC_POINTS = 2**23  # synthetic work items (flow starts "up"/"random") use p = SYNTHETIC_POINTS + s
MAX_POINTS = 2**24  # p * 256 + purpose must fit in 32 bits


class Purpose(enum.IntEnum):
    """The registry of random streams: the last byte of counter word 3 says what the words are
    for. Every stream of the package is one member here (docs/rng.md is checked against it);
    the comment of each member is its (point, replica, step, index) layout."""

    INITIAL_STATE = 0  # Monte Carlo initial states: point, replica, step 0, index = site
    METROPOLIS = 1  # Metropolis sweeps: point, replica, half-sweep, index = site (Ising: byte; q-state: half-word)
    TEMPERING = 2  # replica exchange: point = lower slot, replica 0, exchange, index = replica
    CLUSTER = 3  # Wolff / Swendsen-Wang: point, replica, sweep (SW: 2 sweep + part), running index
    METROPOLIS_TIE = 4  # acceptance ties, q-state tail proposals: point, replica, half-sweep, site (q: 2 site + part)
    # RBM streams (16..20, 23, 24, AIS, FLOW): "Nh" is the stream point Nh + 2**16 * training seed
    RBM_ORDER = 16  # RBM epoch permutations: point = Nh, replica 0, epoch, index = sample
    RBM_INIT = 17  # RBM initial weights and persistent chains: point = Nh, replica = row, step 0
    RBM_GIBBS = 18  # RBM Gibbs sampling: point = Nh, replica = chain, update, half-step * stride + unit
    AIS = 19  # AIS log Z: point = Nh, replica = chain, beta index, part * stride + unit
    RBM_API_GIBBS = 20  # RBM.gibbs of the Python API: point = Nh, replica = row, call, part * stride + unit
    THERMOMETER_ORDER = 21  # neural thermometer epoch permutations: point = field index, replica 0, epoch
    THERMOMETER_INIT = 22  # neural thermometer initial weights: point = field index, replica = row, layer
    CONTROL_WEIGHTS = 23  # the critique's random-weight control RBM: point = Nh, replica = row, step 0
    RBM_SIGN = 24  # rbm.random_sign: point 0, replica 0, step 0, index = global sample index (bit 0 of the word)
    FLOW = 32  # RBM flows: point = Nh, replica = chain id, flow step, part * stride + unit
    BLOCK_SPIN = 48  # block-spin ties: point = b, replica = sample id, step 0, index = block


def rbm_point(n_hidden, training_seed=0):
    """The work item of an RBM's streams (training, AIS, flows): Nh + 2**16 * training seed."""
    return int(n_hidden) + (int(training_seed) << 16)


def counter_words(seed, point, replica, step, index, purpose):
    """Random uint32 words for broadcastable ``index`` arrays (NumPy reference form)."""
    from .philox import philox4x32_numpy, seed_key  # numba, loaded on first use (see rng/__init__.py)
    k0, k1 = seed_key(seed)
    index = np.asarray(index, dtype=np.uint64)
    c3 = np.uint64(int(point) * 256 + int(purpose))
    words = philox4x32_numpy(index >> np.uint64(2), np.uint64(step), np.uint64(replica), c3, k0, k1)
    stacked = np.stack(words, axis=-1)
    return np.take_along_axis(stacked, (index & np.uint64(3)).astype(np.intp)[..., None], axis=-1)[..., 0]
