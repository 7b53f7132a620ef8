"""Readable NumPy reference of the checkerboard Metropolis kernels (tests compare bit for bit).

Same rule and random-number layout as ``ising_cpu.py``; slow, vectorised over one colour.
"""
import numpy as np

from ...rng.streams import Purpose, counter_words


def colour_classes(shape):
    """Boolean masks of the colour classes, in update order, for a lattice of ``shape``."""
    if len(shape) == 2:
        L = shape[0]
        parity = np.add.outer(np.arange(L), np.arange(L)) % 2
        return [parity == 0, parity == 1]
    n = shape[0]
    idx = np.arange(n)
    classes = [(idx % 2 == 0) & (idx < n - n % 2), idx % 2 == 1]
    if n % 2:
        classes.append(idx == n - 1)
    return classes


def neighbour_sum(s):
    """Sum of nearest neighbours with periodic boundaries, int32, same shape as ``s``."""
    s = s.astype(np.int32)
    return sum(np.roll(s, shift, axis) for axis in range(s.ndim) for shift in (1, -1))


def metropolis_reference(spins, thresholds, seed, point, sweep_start, n_sweeps):
    """Same contract as the numba kernels: spins int8 (R, *lattice) updated in place."""
    classes = colour_classes(spins.shape[1:])
    z = 2 * (spins.ndim - 1)
    for r in range(spins.shape[0]):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour, mask in enumerate(classes):
                step = sweep * len(classes) + colour
                words = counter_words(seed, point, r, step, np.arange(mask.sum()), Purpose.METROPOLIS)
                nb = neighbour_sum(s)[mask]
                si = s[mask]
                accept = words.astype(np.uint64) < thresholds[(si + 1) // 2, (nb + z) // 2]
                s[mask] = np.where(accept, -si, si)
