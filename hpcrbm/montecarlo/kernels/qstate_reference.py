"""Readable NumPy reference of the q-state Metropolis kernels (tests compare bit for bit)."""
import numpy as np

from ...rng.streams import Purpose, counter_words
from .ising_reference import colour_classes


def neighbour_states(s):
    """Neighbour states in kernel order: 2D (up, down, left, right), 1D (left, right)."""
    if s.ndim == 2:
        return [np.roll(s, 1, 0), np.roll(s, -1, 0), np.roll(s, 1, 1), np.roll(s, -1, 1)]
    return [np.roll(s, 1), np.roll(s, -1)]


def metropolis_q_reference(spins, table, q, seed, point, sweep_start, n_sweeps):
    """Same contract as the numba kernels: spins int8 (R, *lattice), states 0..q-1."""
    classes = colour_classes(spins.shape[1:])
    for r in range(spins.shape[0]):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour, mask in enumerate(classes):
                step = sweep * len(classes) + colour
                n = int(mask.sum())
                words = counter_words(seed, point, r, step, np.arange(2 * n), Purpose.METROPOLIS).astype(np.uint64)
                propose, accept_word = words[0::2], words[1::2]
                si = s[mask].astype(np.int64)
                delta = 1 + ((propose * np.uint64(q - 1)) >> np.uint64(32)).astype(np.int64)
                index = si * (q - 1) + delta - 1
                for nb in neighbour_states(s):
                    index = index * q + (si - nb[mask]) % q
                accept = accept_word < table[index]
                s[mask] = np.where(accept, (si + delta) % q, si)
