"""Readable NumPy reference of the checkerboard Metropolis kernels (tests compare bit for bit).

Same rule and random-number layout as ``ising_cpu.py``; slow, vectorised over one colour. It
builds every site's full 32-bit acceptance number ``u`` (top byte from the Metropolis stream,
low 24 bits from the tie stream) and compares it with the threshold; the kernels draw the tie
word only when the top byte alone does not decide (docs/rng.md).
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


def acceptance_numbers(seed, point, replica, step, count):
    """uint64 (count,): the uniform 32-bit number u of class sites k = 0 .. count - 1.

    Top byte: byte k % 4 of Metropolis word k // 4 (bytes little-endian); low 24 bits: the top
    24 bits of word k of the tie stream."""
    k = np.arange(count)
    words = counter_words(seed, point, replica, step, k // 4, Purpose.METROPOLIS).astype(np.uint64)
    top = (words >> (8 * (k % 4)).astype(np.uint64)) & np.uint64(0xFF)
    tie = counter_words(seed, point, replica, step, k, Purpose.METROPOLIS_TIE).astype(np.uint64) >> np.uint64(8)
    return (top << np.uint64(24)) | tie


def metropolis_reference(spins, thresholds, seed, point, sweep_start, n_sweeps):
    """Same contract as the numba kernels: spins int8 (R, *lattice) updated in place.

    Returns the number of site updates whose top byte tied with the threshold's (so that tests
    can check the tie stream was exercised)."""
    classes = colour_classes(spins.shape[1:])
    z = 2 * (spins.ndim - 1)
    ties = 0
    for r in range(spins.shape[0]):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour, mask in enumerate(classes):
                step = sweep * len(classes) + colour
                u = acceptance_numbers(seed, point, r, step, mask.sum())
                nb = neighbour_sum(s)[mask]
                si = s[mask]
                threshold = thresholds[(si + 1) // 2, (nb + z) // 2]
                ties += int(np.count_nonzero(u >> np.uint64(24) == threshold >> np.uint64(24)))
                s[mask] = np.where(u < threshold, -si, si)
    return ties


def ising_sums(xp, spins):
    """``ising_cpu.ising_sums`` for arrays of any module ``xp`` (a GPU's among them): per replica
    (sum over bonds of s_i s_j, sum of s_i), int64 (R,); spins (R, L, L), or (R, 1, N) for rings.
    Integer sums, so the same numbers as the numba kernel."""
    s = spins.astype(xp.int64)
    bonds = (s * xp.roll(s, -1, axis=2)).sum(axis=(1, 2))
    if s.shape[1] > 1:
        bonds = bonds + (s * xp.roll(s, -1, axis=1)).sum(axis=(1, 2))
    return bonds, s.sum(axis=(1, 2))
