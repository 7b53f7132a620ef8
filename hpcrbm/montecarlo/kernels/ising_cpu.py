"""Checkerboard Metropolis for Ising spins (int8, +-1): numba CPU kernels.

The update rule and random-number layout are shared with the NumPy reference
(``ising_reference.py``) and the CUDA kernels, and documented in docs/rng.md:

- A sweep is one pass over every colour class in order (2D: (x + y) % 2 = 0, then 1;
  1D ring: even sites, odd sites, and for odd N the last site on its own).
- The half-sweep counter is ``t = sweep * n_colours + colour``.
- Sites of a colour are numbered in row-major order, ``k = 0 .. n_c - 1``. Site k flips iff
  its uniform 32-bit number ``u < threshold[(s + 1) // 2, (sum of neighbours + z) // 2]``
  (uint64 table, 2**32 = always). The top byte of u is byte ``k % 4`` of Metropolis word
  ``k // 4`` (one Philox block serves 16 sites); only when that byte equals the threshold's
  top byte (probability 1/256) are the low 24 bits needed: the top 24 bits of word k of the
  tie stream. No floating point is evaluated in the kernel. The kernels decide a class row in
  two passes (top bytes, branch-free, then ties): the same decisions.
"""
import sys

import numba
import numpy as np

from ...rng.philox import fill_words, philox4x32
from ...rng.streams import Purpose

_METROPOLIS = int(Purpose.METROPOLIS)
_TIE = int(Purpose.METROPOLIS_TIE)
assert sys.byteorder == "little", "the kernels read Philox words as little-endian bytes"


@numba.njit(inline="always", cache=True)
def _threshold_bytes(thresholds):
    """The threshold table's top bytes and where it is 2**32 (always flip), uint8 (n,) each."""
    thr = thresholds.ravel()
    top = np.zeros(thr.size, np.uint8)
    always = np.zeros(thr.size, np.uint8)
    for j in range(thr.size):
        if thr[j] >= np.uint64(1 << 32):
            always[j] = 1
        else:
            top[j] = np.uint8(thr[j] >> np.uint64(24))
    return thr, top, always


@numba.njit(inline="always", cache=True)
def _table_index(si, nb, z):
    """Index of the threshold of spin si with neighbour sum nb (coordination z) in the flat table."""
    return ((si + 1) >> 1) * (z + 1) + ((nb + z) >> 1)


@numba.njit(inline="always", cache=True)
def _decide(s, i, nb, z, byte, top, always, tied, k):
    """First pass at site i (class site k, neighbour sum nb, coordination z): flip it when its
    Metropolis byte is below the threshold's top byte (or the threshold is 2**32); on a tie
    (one site in 256) leave it and set tied[k]. Branch-free, no loop-carried state."""
    si = s[i]
    j = _table_index(si, nb, z)
    a = always[j]
    tied[k] = (byte == top[j]) & (a == 0)
    s[i] = si - 2 * si * np.int8((byte < top[j]) | (a == 1))


@numba.njit(inline="always", cache=True)
def _settle_tie(s, i, nb, z, thr, k, step, replica, c3, k0, k1):
    """Second pass at tied site i (class site k): flip it when the top 24 bits of word k of the
    tie stream are below the low 24 bits of its threshold."""
    si = s[i]
    t = thr[_table_index(si, nb, z)]
    word_index = np.uint64(k)
    w = philox4x32(word_index >> np.uint64(2), np.uint64(step), np.uint64(replica),
                   c3 + np.uint64(_TIE - _METROPOLIS), k0, k1)
    j = word_index & np.uint64(3)
    word = w[0] if j == 0 else w[1] if j == 1 else w[2] if j == 2 else w[3]
    if (word >> np.uint64(8)) < (t & np.uint64(0xFFFFFF)):
        s[i] = -si


@numba.njit(cache=True, nogil=True)
def metropolis_2d(spins, thresholds, k0, k1, point, sweep_start, n_sweeps):
    """Advance every replica of one grid point by ``n_sweeps`` sweeps.

    spins: int8 (R, L, L), +-1, updated in place; thresholds: uint64 (2, 5);
    k0, k1: Philox key; point: global flat grid index; sweep_start: sweeps done so far.
    The sites of a colour do not neighbour each other, so each row of a class is decided in two
    passes: the top bytes first (branch-free; the two ends, which wrap, on their own), then the
    rare ties; the decisions are those of the one-pass rule exactly.
    """
    n_rep, L, _ = spins.shape
    if L <= SMALL_L:
        _metropolis_2d_small(spins, thresholds, k0, k1, point, sweep_start, n_sweeps)
        return
    half = L // 2
    n_sites = L * half
    words = np.empty(((n_sites + 15) // 16) * 4, dtype=np.uint32)
    buf = words.view(np.uint8)
    thr, top, always = _threshold_bytes(thresholds)
    tied = np.zeros(half, np.bool_)
    c3 = np.uint64(point * 256 + _METROPOLIS)
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    ends = (0, half - 1) if half > 1 else (0, 0)
    for r in range(n_rep):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(2):
                step = sweep * 2 + colour
                fill_words(words, 0, (n_sites + 3) // 4, step, r, c3, kk0, kk1)
                for y in range(L):
                    row = s[y]
                    above = s[y - 1 if y > 0 else L - 1]
                    below = s[y + 1 if y < L - 1 else 0]
                    x0 = (y + colour) & 1
                    kb = y * half
                    for e in range(1 if half == 1 else 2):  # the ends of the row, which may wrap
                        i = ends[e]
                        x = x0 + 2 * i
                        nb = (np.int32(above[x]) + np.int32(below[x]) + np.int32(row[x - 1 if x > 0 else L - 1])
                              + np.int32(row[x + 1 if x < L - 1 else 0]))
                        _decide(row, x, nb, 4, buf[kb + i], top, always, tied, i)
                    for i in range(1, half - 1):  # interior: no wrap
                        x = x0 + 2 * i
                        nb = np.int32(above[x]) + np.int32(below[x]) + np.int32(row[x - 1]) + np.int32(row[x + 1])
                        _decide(row, x, nb, 4, buf[kb + i], top, always, tied, i)
                    for i in range(half):
                        if not tied[i]:
                            continue
                        x = x0 + 2 * i
                        nb = (np.int32(above[x]) + np.int32(below[x]) + np.int32(row[x - 1 if x > 0 else L - 1])
                              + np.int32(row[x + 1 if x < L - 1 else 0]))
                        _settle_tie(row, x, nb, 4, thr, kb + i, step, r, c3, kk0, kk1)


SMALL_L = 32  # up to this side a colour class is one loop over neighbour tables, not row by row


@numba.njit(cache=True, nogil=True)
def _metropolis_2d_small(spins, thresholds, k0, k1, point, sweep_start, n_sweeps):
    """:func:`metropolis_2d` for small lattices (batches of many replicas): each colour class
    is one loop over precomputed flat site and neighbour indices (row-major class order)."""
    n_rep, L, _ = spins.shape
    half = L // 2
    n_sites = L * half
    sites = np.empty((2, n_sites), np.int32)
    neighbours = np.empty((2, 4, n_sites), np.int32)
    for colour in range(2):
        for y in range(L):
            for i in range(half):
                k, x = y * half + i, ((y + colour) & 1) + 2 * i
                sites[colour, k] = y * L + x
                neighbours[colour, 0, k] = ((y + L - 1) % L) * L + x
                neighbours[colour, 1, k] = ((y + 1) % L) * L + x
                neighbours[colour, 2, k] = y * L + (x + L - 1) % L
                neighbours[colour, 3, k] = y * L + (x + 1) % L
    words = np.empty(((n_sites + 15) // 16) * 4, dtype=np.uint32)
    buf = words.view(np.uint8)
    thr, top, always = _threshold_bytes(thresholds)
    tied = np.zeros(n_sites, np.bool_)
    c3 = np.uint64(point * 256 + _METROPOLIS)
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    for r in range(n_rep):
        s = spins[r].ravel()
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(2):
                step = sweep * 2 + colour
                fill_words(words, 0, (n_sites + 3) // 4, step, r, c3, kk0, kk1)
                site, up, down, left, right = (sites[colour], neighbours[colour, 0], neighbours[colour, 1],
                                               neighbours[colour, 2], neighbours[colour, 3])
                for k in range(n_sites):
                    nb = np.int32(s[up[k]]) + np.int32(s[down[k]]) + np.int32(s[left[k]]) + np.int32(s[right[k]])
                    _decide(s, site[k], nb, 4, buf[k], top, always, tied, k)
                for k in range(n_sites):
                    if not tied[k]:
                        continue
                    nb = np.int32(s[up[k]]) + np.int32(s[down[k]]) + np.int32(s[left[k]]) + np.int32(s[right[k]])
                    _settle_tie(s, site[k], nb, 4, thr, k, step, r, c3, kk0, kk1)


@numba.njit(inline="always", cache=True)
def ring_colour_class(n, colour):
    """(start, count) of colour class ``colour`` of an n-site ring: sites start, start + 2, ...

    Colour 0: even sites below n - n % 2; colour 1: odd sites; colour 2 (odd n only): site n - 1.
    """
    if colour == 2:
        return n - 1, 1
    stop = n - (n & 1) * (1 - colour)
    return colour, (stop - colour + 1) // 2


@numba.njit(cache=True, nogil=True)
def metropolis_1d(spins, thresholds, k0, k1, point, sweep_start, n_sweeps):
    """1D ring twin of :func:`metropolis_2d`: spins int8 (R, N), thresholds uint64 (2, 3).

    Colours: even sites below N - N % 2, odd sites, and for odd N the last site alone.
    """
    n_rep, n = spins.shape
    n_colours = 2 + (n & 1)
    count0 = (n + 1) // 2
    words = np.empty(((count0 + 15) // 16) * 4, dtype=np.uint32)
    buf = words.view(np.uint8)
    thr, top, always = _threshold_bytes(thresholds)
    tied = np.zeros(count0, np.bool_)
    c3 = np.uint64(point * 256 + _METROPOLIS)
    kk0 = np.uint64(k0)
    kk1 = np.uint64(k1)
    for r in range(n_rep):
        s = spins[r]
        for sweep in range(sweep_start, sweep_start + n_sweeps):
            for colour in range(n_colours):
                step = sweep * n_colours + colour
                start, count = ring_colour_class(n, colour)
                fill_words(words, 0, (count + 3) // 4, step, r, c3, kk0, kk1)
                for e in range(1 if count == 1 else 2):  # the two ends of the class, which may wrap
                    k = e * (count - 1)
                    i = start + 2 * k
                    nb = np.int32(s[(i + n - 1) % n]) + np.int32(s[(i + 1) % n])
                    _decide(s, i, nb, 2, buf[k], top, always, tied, k)
                for k in range(1, count - 1):  # interior: no wrap
                    i = start + 2 * k
                    _decide(s, i, np.int32(s[i - 1]) + np.int32(s[i + 1]), 2, buf[k], top, always, tied, k)
                for k in range(count):
                    if not tied[k]:
                        continue
                    i = start + 2 * k
                    _settle_tie(s, i, np.int32(s[(i + n - 1) % n]) + np.int32(s[(i + 1) % n]), 2, thr, k, step, r,
                                c3, kk0, kk1)


@numba.njit(cache=True, nogil=True)
def ising_sums(spins):
    """Per replica (sum over bonds of s_i s_j, sum of s_i), int64 arrays (R,).

    spins int8 (R, L, L), or (R, 1, N) for rings; each periodic bond is counted once
    (bonds to the right, and down in 2D).
    """
    n_rep, ly, lx = spins.shape
    bonds = np.zeros(n_rep, dtype=np.int64)
    total = np.zeros(n_rep, dtype=np.int64)
    for r in range(n_rep):
        b = 0
        m = 0
        for y in range(ly):
            yd = y + 1 if y < ly - 1 else 0
            for x in range(lx):
                xr = x + 1 if x < lx - 1 else 0
                si = np.int64(spins[r, y, x])
                b += si * spins[r, y, xr]
                if ly > 1:
                    b += si * spins[r, yd, x]
                m += si
        bonds[r] = b
        total[r] = m
    return bonds, total
