"""Readable NumPy reference of the q-state Metropolis kernels (tests compare bit for bit).

Same rule and random-number layout as ``qstate_cpu.py`` (docs/rng.md); slow, vectorised over
one colour class. It draws every site's full proposal and full 32-bit acceptance number (the
tie-stream words included); the kernels draw the tie stream only for sites whose bytes do not
decide.
"""
import numpy as np

from ...rng.streams import Purpose, counter_words
from .ising_reference import colour_classes


def neighbour_states(s):
    """Neighbour states in kernel order: 2D (up, down, left, right), 1D (left, right)."""
    if s.ndim == 2:
        return [np.roll(s, 1, 0), np.roll(s, -1, 0), np.roll(s, 1, 1), np.roll(s, -1, 1)]
    return [np.roll(s, 1), np.roll(s, -1)]


def proposals_and_acceptance(seed, point, replica, step, count, q):
    """For class sites k = 0 .. count - 1: (delta, u, tail) with the proposed step delta in
    1..q-1, the uniform 32-bit acceptance number u (uint64) and whether the proposal byte was in
    the tail (so that delta came from the tail word).

    Half-word k of the Metropolis stream (bits 16 (k % 2) of word k // 2): low byte p, high
    byte a. delta = 1 + p // c for p < (q - 1) c, c = 256 // (q - 1), else 1 + ((w * (q - 1))
    >> 32) with w = word 2k + 1 of the tie stream; u = a 2**24 + (word 2k of the tie stream >> 8).
    """
    u64 = np.uint64
    m = q - 1
    c = 256 // m  # the kernels compute p // c by a multiplication (qstate_cpu.proposal_constants)
    k = np.arange(count, dtype=np.uint64)
    words = counter_words(seed, point, replica, step, k // u64(2), Purpose.METROPOLIS).astype(np.uint64)
    half = (words >> (u64(16) * (k % u64(2)))) & u64(0xFFFF)
    p, a = half & u64(0xFF), half >> u64(8)
    tie = counter_words(seed, point, replica, step, u64(2) * k, Purpose.METROPOLIS_TIE).astype(np.uint64)
    tail_word = counter_words(seed, point, replica, step, u64(2) * k + u64(1), Purpose.METROPOLIS_TIE)
    tail = p >= u64(m * c)
    delta = np.where(tail, (tail_word.astype(np.uint64) * u64(m)) >> u64(32), p // u64(c)).astype(np.int64) + 1
    u = (a << u64(24)) | (tie >> u64(8))
    return delta, u, tail


def metropolis_q_reference(spins, table, q, seed, point, sweep_start, n_sweeps):
    """Same contract as the numba kernels: spins int8 (R, *lattice), states 0..q-1.

    Returns (ties, tails): the numbers of site updates whose acceptance byte tied with the
    threshold's top byte and whose proposal byte was in the tail (so that tests can check that
    both parts of the kernels' second pass were exercised)."""
    classes = colour_classes(spins.shape[1:])
    ties = tails = 0
    for r in range(spins.shape[0]):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour, mask in enumerate(classes):
                step = sweep * len(classes) + colour
                delta, u, tail = proposals_and_acceptance(seed, point, r, step, int(mask.sum()), q)
                si = s[mask].astype(np.int64)
                index = si * (q - 1) + delta - 1
                for nb in neighbour_states(s):
                    index = index * q + (si - nb[mask]) % q
                threshold = table[index]
                ties += int(np.count_nonzero(u >> np.uint64(24) == threshold >> np.uint64(24)))
                tails += int(np.count_nonzero(tail))
                s[mask] = np.where(u < threshold, (si + delta) % q, si)
    return ties, tails


def qstate_histograms(xp, spins, q):
    """``qstate_cpu.qstate_histograms`` for arrays of any module ``xp``: per replica, the bond
    histogram over d = (s_i - s_j) mod q (2D bonds to the right and down, 1D to the right) and
    the state histogram, int64 (R, q) each; spins (R, L, L) or (R, 1, N) for rings."""
    s = spins.astype(xp.int64)
    values = xp.arange(q)

    def histogram(a):  # (R, ...) of values in [0, q) -> (R, q)
        return (a.reshape(len(a), -1, 1) == values).sum(axis=1, dtype=xp.int64)

    bonds = histogram((s - xp.roll(s, -1, axis=2)) % q)
    if s.shape[1] > 1:
        bonds = bonds + histogram((s - xp.roll(s, -1, axis=1)) % q)
    return bonds, histogram(s)
